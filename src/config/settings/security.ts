import { int, str } from '../types.js'

// Limits and credentials every service shares: HTTP timeouts, the JSON nesting limit, database
// statement/lock timeouts and the service tokens (see README › Security).

const SERVERS = ['mqwriter', 'mqreader', 'streamer', 'collector', 'apigw', 'partition-controller', 'scraper'] as const
const DB_USERS = ['mqwriter', 'mqreader', 'collector', 'apigw'] as const
const TOKEN = /^[A-Za-z0-9._~+/=-]{16,512}$/
const TOKEN_TEXT = 'token of 16..512 characters [A-Za-z0-9._~+/=-]'

export const security = {
  httpRequestTimeoutMs: int({
    flag: 'http-request-timeout-ms',
    env: 'TPIPE_HTTP_REQUEST_TIMEOUT_MS',
    description: 'A request (headers and body) must arrive within this; slower clients are cut off.',
    scopes: [...SERVERS],
    default: 30000,
    min: 1000,
  }),
  httpHeadersTimeoutMs: int({
    flag: 'http-headers-timeout-ms',
    env: 'TPIPE_HTTP_HEADERS_TIMEOUT_MS',
    description: 'The request headers must arrive within this.',
    scopes: [...SERVERS],
    default: 10000,
    min: 1000,
  }),
  httpIdleTimeoutMs: int({
    flag: 'http-idle-timeout-ms',
    env: 'TPIPE_HTTP_IDLE_TIMEOUT_MS',
    description: 'A connection without any traffic for this long is closed (keep it above the longest lease wait).',
    scopes: [...SERVERS],
    default: 120000,
    min: 1000,
  }),
  jsonMaxDepth: int({
    flag: 'json-max-depth',
    env: 'TPIPE_JSON_MAX_DEPTH',
    description: 'Deepest nesting of objects/arrays accepted in a JSON request body (deeper: 400).',
    scopes: [...SERVERS],
    default: 64,
    min: 4,
    max: 1000,
  }),
  dbStatementTimeoutMs: int({
    flag: 'db-statement-timeout-ms',
    env: 'TPIPE_DB_STATEMENT_TIMEOUT_MS',
    description: 'statement_timeout of every service database session (0 = none); apigw uses its own setting.',
    scopes: [...DB_USERS],
    default: 30000,
    min: 0,
  }),
  dbLockTimeoutMs: int({
    flag: 'db-lock-timeout-ms',
    env: 'TPIPE_DB_LOCK_TIMEOUT_MS',
    description: 'lock_timeout of every service database session: a statement waits at most this for a lock (0 = none).',
    scopes: [...DB_USERS],
    default: 5000,
    min: 0,
  }),
  publishToken: str({
    flag: 'publish-token',
    env: 'TPIPE_PUBLISH_TOKEN',
    description: 'Bearer token for mqwriter POST /v1/publish (producers send it). Unset: publishing is open.',
    scopes: ['mqwriter', 'streamer', 'scraper', 'cli'],
    secret: true,
    pattern: TOKEN,
    patternText: TOKEN_TEXT,
  }),
  queueToken: str({
    flag: 'queue-token',
    env: 'TPIPE_QUEUE_TOKEN',
    description: 'Bearer token for mqreader POST /v1/lease, /v1/ack and /v1/release (the collector sends it). Unset: open.',
    scopes: ['mqreader', 'collector', 'cli'],
    secret: true,
    pattern: TOKEN,
    patternText: TOKEN_TEXT,
  }),
  controlToken: str({
    flag: 'control-token',
    env: 'TPIPE_CONTROL_TOKEN',
    description: 'Bearer token for mqreader PUT /v1/assignment (the supervisor and the partition-controller send it). Unset: open.',
    scopes: ['mqreader', 'partition-controller', 'cli'],
    secret: true,
    pattern: TOKEN,
    patternText: TOKEN_TEXT,
  }),
  apiToken: str({
    flag: 'api-token',
    env: 'TPIPE_API_TOKEN',
    description: 'Optional bearer token for apigw /api/* (the CLI and the dashboard send it). Unset: the API is open.',
    scopes: ['apigw', 'cli'],
    secret: true,
    pattern: TOKEN,
    patternText: TOKEN_TEXT,
  }),
} as const
