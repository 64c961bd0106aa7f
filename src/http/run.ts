// The process side of a service: logger, database pool, listen, signals, graceful shutdown.
// Every `tpipe serve <service>` goes through runService, so every service shuts down the same way:
// SIGTERM/SIGINT → stop accepting → finish in-flight work (onClose hooks: flush, drain) → close the
// pool → exit 0, bounded by the shutdown timeout.
import type { FastifyInstance } from 'fastify'
import { pino, type Logger } from 'pino'
import { redact, type Config } from '../config/index.js'
import { createPool, resolveDatabaseUrl, type Pool } from '../db/index.js'
import { markShuttingDown } from './server.js'

export interface ServiceContext {
  config: Config
  log: Logger
  /** Present when the service was started with needsDatabase. */
  pool: Pool | undefined
}

export interface RunOptions {
  service: string
  config: Config
  needsDatabase: boolean
  build: (ctx: ServiceContext) => Promise<FastifyInstance> | FastifyInstance
  /** Statement timeout for every connection of the pool, set at connection start-up (default: TPIPE_DB_STATEMENT_TIMEOUT_MS). */
  statementTimeoutMs?: number
  /** Runs after listen (e.g. start loops that need the address). */
  afterListen?: (address: string) => Promise<void> | void
}

export async function runService(opts: RunOptions): Promise<void> {
  const { config } = opts
  const log = pino({ level: config.logLevel, base: { service: opts.service, pid: process.pid } })
  log.info({ config: redact(config) }, `starting ${opts.service}`)

  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'))

  let pool: Pool | undefined
  if (opts.needsDatabase) {
    const url = await resolveDatabaseUrl(config, (m) => log.info(m))
    pool = createPool(url, {
      max: config.dbPoolMax,
      applicationName: `tpipe-${opts.service}`,
      statementTimeoutMs: opts.statementTimeoutMs ?? config.dbStatementTimeoutMs,
      lockTimeoutMs: config.dbLockTimeoutMs,
      onError: (err) => log.warn({ err: err.message }, 'idle database connection failed'),
    })
  }
  const app = await opts.build({ config, log, pool })
  const address = await app.listen({ host: config.host, port: config.port })
  log.info({ address }, `${opts.service} listening`)
  // Under a supervisor (tpipe dev) the port may be 0: report the bound one over the IPC channel, so the
  // supervisor never has to pick a port before the service binds it.
  if (process.send && process.env.TPIPE_SUPERVISOR_PID) {
    const a = app.server.address()
    process.send({ tpipe: 'listening', port: typeof a === 'object' && a ? a.port : config.port })
    process.channel?.unref()
  }
  await opts.afterListen?.(address)

  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    // Readiness first: /readyz fails at once (the endpoint is taken out of its Services) while requests
    // are still served for shutdownDelayMs, so clients behind a ClusterIP are not refused meanwhile.
    markShuttingDown(app)
    log.info({ signal, delayMs: config.shutdownDelayMs }, 'shutting down')
    void (async () => {
      if (config.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDelayMs))
      const timer = setTimeout(() => {
        log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting')
        process.exit(1)
      }, config.shutdownTimeoutMs)
      timer.unref()
      try {
        await app.close()
        await pool?.end()
        log.info('stopped')
        process.exit(0)
      } catch (err) {
        log.error({ err }, 'shutdown failed')
        process.exit(1)
      }
    })()
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))

  // Under a supervisor (tpipe dev), a child whose supervisor died (kill -9, a crash) would run on as an
  // orphan forever: notice the parent change and shut down gracefully, like on SIGTERM.
  const supervisor = Number(process.env.TPIPE_SUPERVISOR_PID)
  if (Number.isInteger(supervisor) && supervisor > 0) {
    const orphanCheck = setInterval(() => {
      if (process.ppid !== supervisor) shutdown('supervisor gone')
    }, 1000)
    orphanCheck.unref()
  }
}
