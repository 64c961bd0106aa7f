// One registry of every error tpipe returns over HTTP or prints from the CLI: a stable TPIPE_ERR_* code,
// an HTTP status and a default message. Every HTTP error body is { "error": { "code", "message" } }.

export const ERRORS = {
  TPIPE_ERR_VALIDATION: { status: 400, message: 'the request is not valid' },
  TPIPE_ERR_BAD_JSON: { status: 400, message: 'the request body is not valid JSON' },
  TPIPE_ERR_BAD_PARAMETER: { status: 400, message: 'a parameter is not valid' },
  TPIPE_ERR_UNAUTHENTICATED: { status: 401, message: 'missing credentials: send Authorization: Bearer <token>' },
  TPIPE_ERR_FORBIDDEN: { status: 403, message: 'the token is not valid for this endpoint' },
  TPIPE_ERR_BODY_TOO_LARGE: { status: 413, message: 'the request body is larger than the limit' },
  TPIPE_ERR_URI_TOO_LONG: { status: 414, message: 'a path parameter is longer than the limit' },
  TPIPE_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'the request body must be application/json' },
  TPIPE_ERR_NOT_FOUND: { status: 404, message: 'not found' },
  TPIPE_ERR_GPU_NOT_FOUND: { status: 404, message: 'no telemetry for that GPU' },
  TPIPE_ERR_METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  TPIPE_ERR_LEASE_EXPIRED: { status: 409, message: 'the lease is unknown or expired; its messages will be redelivered' },
  TPIPE_ERR_STALE_GENERATION: { status: 409, message: 'the assignment is older than the one in force' },
  TPIPE_ERR_BUFFER_FULL: { status: 429, message: 'the buffer is full; retry after the given delay' },
  TPIPE_ERR_TOO_MANY_WAITERS: { status: 429, message: 'too many requests are waiting; retry later' },
  TPIPE_ERR_DB_UNAVAILABLE: { status: 503, message: 'the database is unavailable; retry later' },
  TPIPE_ERR_SHUTTING_DOWN: { status: 503, message: 'the service is shutting down' },
  TPIPE_ERR_NOT_READY: { status: 503, message: 'the service is not ready' },
  TPIPE_ERR_INTERNAL: { status: 500, message: 'internal error' },
} as const satisfies Record<string, { status: number; message: string }>

export type ErrorCode = keyof typeof ERRORS

export interface ErrorBody {
  error: { code: ErrorCode; message: string }
}

/** An error with a registered code; the HTTP error handler turns it into the JSON body. */
export class TpipeError extends Error {
  readonly code: ErrorCode
  readonly status: number
  /** Seconds for a Retry-After header (429/503). */
  readonly retryAfter?: number
  constructor(code: ErrorCode, message?: string, opts: { retryAfter?: number; cause?: unknown } = {}) {
    super(message ?? ERRORS[code].message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'TpipeError'
    this.code = code
    this.status = ERRORS[code].status
    if (opts.retryAfter !== undefined) this.retryAfter = opts.retryAfter
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message } }
  }
}

export function errorBody(code: ErrorCode, message?: string): ErrorBody {
  return { error: { code, message: message ?? ERRORS[code].message } }
}

/** JSON schema of the error body, for OpenAPI responses. */
export const errorBodySchema = {
  $id: 'ErrorBody',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string', enum: Object.keys(ERRORS) }, message: { type: 'string' } },
    },
  },
} as const

/** Codes the CLI prints (in `--json` output as { "error": { code, message, exit } }), with their exit codes. */
export const CLI_ERRORS = {
  /** A flag or argument is not valid (oclif's own parse errors too). */
  TPIPE_ERR_USAGE: { exit: 2 },
  /** A setting (flag or env) is not valid. */
  TPIPE_ERR_CONFIG: { exit: 2 },
  /** apigw, the control endpoint or the cluster could not be reached. */
  TPIPE_ERR_UNREACHABLE: { exit: 1 },
  /** No `tpipe dev` instance (with --target local) or nothing to act on. */
  TPIPE_ERR_NOT_RUNNING: { exit: 3 },
  /** A `tpipe dev` already runs on this TPIPE_HOME. */
  TPIPE_ERR_ALREADY_RUNNING: { exit: 3 },
  /** `tpipe dev` could not start (the cause is in the message). */
  TPIPE_ERR_START_FAILED: { exit: 1 },
  /** Anything else that failed. */
  TPIPE_ERR_FAILED: { exit: 1 },
} as const

export type CliErrorCode = keyof typeof CLI_ERRORS
