import { homedir } from 'node:os'
import { join } from 'node:path'
import { bool, int, oneOf, str } from '../types.js'

/** Settings every service and most commands share. */
export const common = {
  logLevel: oneOf({
    flag: 'log-level',
    env: 'TPIPE_LOG_LEVEL',
    description: 'Log level of the JSON (pino) logs.',
    scopes: 'all',
    default: 'info',
    values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const,
  }),
  port: int({
    flag: 'port',
    env: 'TPIPE_PORT',
    description: 'HTTP port the service listens on (0 picks a free one).',
    scopes: ['mqwriter', 'mqreader', 'streamer', 'collector', 'apigw', 'partition-controller', 'scraper'],
    default: 8080,
    min: 0,
    max: 65535,
  }),
  host: str({
    flag: 'host',
    env: 'TPIPE_HOST',
    description: 'Address the service listens on: loopback unless told otherwise (the container image sets 0.0.0.0).',
    scopes: ['mqwriter', 'mqreader', 'streamer', 'collector', 'apigw', 'partition-controller', 'scraper'],
    default: '127.0.0.1',
  }),
  databaseUrl: str({
    flag: 'database-url',
    env: 'TPIPE_DATABASE_URL',
    envAliases: ['DATABASE_URL'],
    description: 'PostgreSQL connection URL. When unset, an embedded PostgreSQL under TPIPE_HOME is started and used.',
    scopes: ['mqwriter', 'mqreader', 'collector', 'apigw', 'cli'],
    secret: true,
    pattern: /^postgres(ql)?:\/\//,
    patternText: 'postgres:// URL',
  }),
  home: str({
    flag: 'home',
    env: 'TPIPE_HOME',
    description: 'tpipe home directory: embedded PostgreSQL data, tpipe dev logs and state.',
    scopes: 'all',
    default: join(homedir(), '.tpipe'),
  }),
  dbPoolMax: int({
    flag: 'db-pool-max',
    env: 'TPIPE_DB_POOL_MAX',
    description: 'Maximum connections in the process’s PostgreSQL pool.',
    scopes: ['mqwriter', 'mqreader', 'collector', 'apigw'],
    default: 10,
    min: 1,
    max: 200,
  }),
  bodyLimitBytes: int({
    flag: 'body-limit-bytes',
    env: 'TPIPE_BODY_LIMIT_BYTES',
    description: 'Largest accepted HTTP request body; larger bodies get 413.',
    scopes: ['mqwriter', 'mqreader', 'streamer', 'collector', 'apigw', 'partition-controller', 'scraper'],
    default: 1048576,
    min: 1024,
  }),
  shutdownTimeoutMs: int({
    flag: 'shutdown-timeout-ms',
    env: 'TPIPE_SHUTDOWN_TIMEOUT_MS',
    description: 'Upper bound for a graceful shutdown (drain, flush) before the process exits anyway.',
    scopes: ['mqwriter', 'mqreader', 'streamer', 'collector', 'apigw', 'partition-controller', 'scraper'],
    default: 15000,
    min: 0,
  }),
  shutdownDelayMs: int({
    flag: 'shutdown-delay-ms',
    env: 'TPIPE_SHUTDOWN_DELAY_MS',
    description:
      'On SIGTERM, /readyz answers 503 at once but requests keep being served this long before the server closes: clients of a Kubernetes Service are moved off the pod before its connections are refused. The charts set 5000.',
    scopes: ['mqwriter', 'mqreader', 'streamer', 'collector', 'apigw', 'partition-controller', 'scraper'],
    default: 0,
    min: 0,
    max: 120000,
  }),
  metricsEnabled: bool({
    flag: 'default-metrics',
    env: 'TPIPE_DEFAULT_METRICS',
    description: 'Export prom-client default process metrics (CPU, memory, event loop) on /metrics.',
    scopes: ['mqwriter', 'mqreader', 'streamer', 'collector', 'apigw', 'partition-controller', 'scraper'],
    default: true,
  }),
} as const
