// The service skeleton every tpipe service is built on: fastify with pino JSON logs, /healthz,
// /readyz, /metrics, one error handler that turns everything into { error: { code, message } },
// a body size limit, and a graceful close. Services add their routes to the instance it returns.
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifySchema, type FastifyServerOptions } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { ERRORS, TpipeError, errorBody, errorBodySchema, type ErrorCode } from '../errors.js'
import { JsonBodyError, parseJsonBody } from './json.js'

export interface ReadinessCheck {
  name: string
  check: () => Promise<boolean> | boolean
}

export interface ServerOptions {
  service: string
  logLevel?: string
  /** A ready-made logger (tests pass a silent one); otherwise pino at logLevel. */
  logger?: Logger
  bodyLimitBytes?: number
  registry: Registry
  readiness?: ReadinessCheck[]
  /** Timeouts and the JSON nesting limit (every service passes its settings; defaults otherwise). */
  limits?: Partial<HttpLimits>
  /** Extra fastify options (e.g. ajv settings). */
  fastify?: Partial<FastifyServerOptions>
}

/** What bounds one request: a client that sends slowly is cut, a body nested too deep is refused. */
export interface HttpLimits {
  /** The whole request (headers and body) must arrive within this (slow-body clients are cut). */
  requestTimeoutMs: number
  /** The headers must arrive within this. */
  headersTimeoutMs: number
  /** A connection with no traffic at all for this long is closed (longer than any long-poll). */
  idleTimeoutMs: number
  /** Deepest nesting of a JSON body. */
  jsonMaxDepth: number
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, idleTimeoutMs: 120_000, jsonMaxDepth: 64 }

/** The limits out of a loaded configuration (the common settings every service has). */
export function httpLimits(config: {
  httpRequestTimeoutMs: number
  httpHeadersTimeoutMs: number
  httpIdleTimeoutMs: number
  jsonMaxDepth: number
}): HttpLimits {
  return {
    requestTimeoutMs: config.httpRequestTimeoutMs,
    headersTimeoutMs: config.httpHeadersTimeoutMs,
    idleTimeoutMs: config.httpIdleTimeoutMs,
    jsonMaxDepth: config.jsonMaxDepth,
  }
}

function codeForStatus(status: number): ErrorCode {
  if (status === 404) return 'TPIPE_ERR_NOT_FOUND'
  if (status === 405) return 'TPIPE_ERR_METHOD_NOT_ALLOWED'
  if (status === 413) return 'TPIPE_ERR_BODY_TOO_LARGE'
  if (status === 415) return 'TPIPE_ERR_UNSUPPORTED_MEDIA_TYPE'
  if (status === 429) return 'TPIPE_ERR_BUFFER_FULL'
  if (status === 503) return 'TPIPE_ERR_NOT_READY'
  if (status >= 400 && status < 500) return 'TPIPE_ERR_VALIDATION'
  return 'TPIPE_ERR_INTERNAL'
}

// @fastify/swagger reads `hide`; the base FastifySchema type does not know it.
const HIDDEN = { hide: true } as FastifySchema

const shuttingDown = new WeakMap<FastifyInstance, () => void>()

/** Readiness-first shutdown: /readyz answers 503 from now on while every route keeps being served. */
export function markShuttingDown(app: FastifyInstance): void {
  shuttingDown.get(app)?.()
}

export function buildServer(opts: ServerOptions): FastifyInstance {
  const limits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits }
  // Node requires headersTimeout <= requestTimeout; checks run every connectionsCheckingInterval.
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs)
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: { level: opts.logLevel ?? 'info', base: { service: opts.service } } }),
    bodyLimit: opts.bodyLimitBytes ?? 1024 * 1024,
    // Per-request log lines would cost more than the requests on the hot path; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { allErrors: false, coerceTypes: 'array', removeAdditional: false, useDefaults: true } },
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    http: { headersTimeout, connectionsCheckingInterval: Math.max(250, Math.min(5000, Math.floor(headersTimeout / 4))) },
    // Fastify's own routing errors (a bad %-escape, an over-long path parameter) in our error shape.
    frameworkErrors: (err, _request, reply) => {
      const raw = reply as unknown as { status(n: number): { send(b: unknown): unknown } }
      if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') raw.status(414).send(errorBody('TPIPE_ERR_URI_TOO_LONG'))
      else raw.status(400).send(errorBody('TPIPE_ERR_BAD_PARAMETER', `the URL is not valid: ${err.message}`))
    },
    ...opts.fastify,
  }) as unknown as FastifyInstance

  // One JSON parser for every route (see json.ts); no text/plain parser, so a text body gets 415.
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string, { maxDepth: limits.jsonMaxDepth }))
    } catch (err) {
      done(err as Error, undefined)
    }
  })

  app.addSchema(errorBodySchema)
  let closing = false
  app.addHook('onClose', async () => {
    closing = true
  })
  shuttingDown.set(app, () => {
    closing = true
  })

  app.setErrorHandler((err: FastifyError & { validationContext?: string }, request, reply) => {
    if (err instanceof TpipeError) {
      if (err.retryAfter !== undefined) void reply.header('Retry-After', String(err.retryAfter))
      return reply.status(err.status).send(err.body())
    }
    if (err instanceof JsonBodyError) {
      return reply.status(400).send(errorBody(err.kind === 'syntax' ? 'TPIPE_ERR_BAD_JSON' : 'TPIPE_ERR_VALIDATION', err.message))
    }
    if (err.validation || err.code === 'FST_ERR_VALIDATION') {
      return reply.status(400).send(errorBody('TPIPE_ERR_VALIDATION', err.message))
    }
    switch (err.code) {
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return reply.status(400).send(errorBody('TPIPE_ERR_BAD_JSON', err.message))
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return reply.status(413).send(errorBody('TPIPE_ERR_BODY_TOO_LARGE', `${ERRORS.TPIPE_ERR_BODY_TOO_LARGE.message} (${opts.bodyLimitBytes ?? 1048576} bytes)`))
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply.status(415).send(errorBody('TPIPE_ERR_UNSUPPORTED_MEDIA_TYPE'))
    }
    if (err instanceof SyntaxError) return reply.status(400).send(errorBody('TPIPE_ERR_BAD_JSON', err.message))
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500
    if (status >= 500) request.log.error({ err }, 'request failed')
    return reply.status(status).send(errorBody(codeForStatus(status), status >= 500 ? ERRORS.TPIPE_ERR_INTERNAL.message : err.message))
  })

  // PostgreSQL text cannot hold NUL: a parameter carrying one is the caller's mistake, named here (400)
  // instead of surfacing as SQLSTATE 22021 (a 500) wherever it reaches a query.
  app.addHook('preValidation', async (request) => {
    for (const values of [request.params, request.query]) {
      if (!values || typeof values !== 'object') continue
      for (const [name, v] of Object.entries(values as Record<string, unknown>)) {
        const list = Array.isArray(v) ? v : [v]
        if (list.some((x) => typeof x === 'string' && x.includes('\u0000'))) {
          throw new TpipeError('TPIPE_ERR_BAD_PARAMETER', `${name}: must not contain a NUL character`)
        }
      }
    }
  })

  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(errorBody('TPIPE_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`))
  })

  app.get('/healthz', { schema: HIDDEN }, async () => ({ status: 'ok', service: opts.service }))

  app.get('/readyz', { schema: HIDDEN }, async (_req, reply) => {
    const checks: Record<string, boolean> = {}
    let ready = !closing
    for (const c of opts.readiness ?? []) {
      let ok = false
      try {
        ok = await c.check()
      } catch {
        ok = false
      }
      checks[c.name] = ok
      ready &&= ok
    }
    if (!ready) {
      return reply.status(503).send({ ready: false, checks, ...errorBody(closing ? 'TPIPE_ERR_SHUTTING_DOWN' : 'TPIPE_ERR_NOT_READY') })
    }
    return { ready: true, checks }
  })

  app.get('/metrics', { schema: HIDDEN }, async (_req, reply) => {
    const text = await opts.registry.metrics()
    return reply.header('Content-Type', opts.registry.contentType).send(text)
  })

  return app
}
