// The process side of a service: logger, database pool, listen, signals, graceful shutdown.
// Every `tpipe serve <service>` goes through runService, so every service starts and stops the same way:
// build (its one factory) → listen → start() → … SIGTERM/SIGINT, or the service says it is finished →
// /readyz false (and, on a signal, shutdownDelayMs of serving on) → stop() (background work) → app.close() (stop accepting, finish in-flight requests, onClose hooks:
// flush, drain) → close the pool → exit, bounded by the shutdown timeout.
import { pino, type Logger } from 'pino'
import { redact, type Config } from '../config/index.js'
import { createPool, resolveDatabaseUrl, type Pool } from '../db/index.js'
import { markShuttingDown } from './server.js'
import type { Service } from './service.js'

export type { Service, ServiceHost } from './service.js'

export interface ServiceContext {
  config: Config
  log: Logger
}

export interface DatabaseContext extends ServiceContext {
  pool: Pool
  /** The URL the pool connects to, resolved once (the embedded server started if needed). */
  databaseUrl: string
}

export interface DatabaseOptions {
  /** Statement timeout for every connection of the pool, set at connection start-up (default: TPIPE_DB_STATEMENT_TIMEOUT_MS). */
  statementTimeoutMs?: number | undefined
}

export interface RunOptions<D extends DatabaseOptions | undefined = DatabaseOptions | undefined> {
  service: string
  config: Config
  /** Given when the service needs PostgreSQL: runService opens the pool first and closes it last. */
  database?: D
  /** The service's one factory; gets a pool (never undefined) when `database` is given. */
  build: (ctx: D extends DatabaseOptions ? DatabaseContext : ServiceContext) => Promise<Service> | Service
}

/** How a database is reached; replaced in tests. */
export interface Connector {
  resolveUrl(config: Config, log: Logger): Promise<string>
  createPool(url: string, opts: Parameters<typeof createPool>[1]): Pool
}

const realConnector: Connector = {
  resolveUrl: (config, log) => resolveDatabaseUrl(config, (m) => log.info(m)),
  createPool,
}

/** A running service: its address and the one shutdown path (resolves with the exit code). */
export interface RunningService {
  readonly address: string
  readonly service: Service
  /** Stops once (later calls return the same promise): stop() → app.close() → pool.end(). */
  shutdown(reason: string, err?: unknown): Promise<number>
  /** Resolves with the exit code when the service shut down (a signal, or it finished). */
  readonly done: Promise<number>
}

/** Builds, listens and starts a service; no signals, no process.exit (runService adds those). */
export async function startService<D extends DatabaseOptions | undefined = undefined>(opts: RunOptions<D>, log: Logger, connector: Connector = realConnector): Promise<RunningService> {
  const { config } = opts
  let pool: Pool | undefined
  let service: Service
  if (opts.database) {
    const databaseUrl = await connector.resolveUrl(config, log)
    const dbPool = connector.createPool(databaseUrl, {
      max: config.dbPoolMax,
      applicationName: `tpipe-${opts.service}`,
      statementTimeoutMs: opts.database.statementTimeoutMs ?? config.dbStatementTimeoutMs,
      lockTimeoutMs: config.dbLockTimeoutMs,
      onError: (err) => log.warn({ err: err.message }, 'idle database connection failed'),
    })
    pool = dbPool
    service = await (opts.build as (ctx: DatabaseContext) => Promise<Service> | Service)({ config, log, pool: dbPool, databaseUrl })
  } else {
    service = await (opts.build as (ctx: ServiceContext) => Promise<Service> | Service)({ config, log })
  }

  let resolveDone!: (code: number) => void
  const done = new Promise<number>((resolve) => (resolveDone = resolve))
  let stopping: Promise<number> | undefined
  const shutdown = (reason: string, err?: unknown): Promise<number> => {
    stopping ??= (async () => {
      // Readiness first: /readyz fails at once (the endpoint is taken out of its Services) while requests
      // are still served for shutdownDelayMs, so clients behind a ClusterIP are not refused meanwhile.
      markShuttingDown(service.app)
      if (err === undefined) log.info({ reason, delayMs: config.shutdownDelayMs }, 'shutting down')
      else log.error({ reason, err: err instanceof Error ? err.message : String(err) }, 'shutting down after a failure')
      if (config.shutdownDelayMs > 0 && err === undefined && reason !== 'finished') await new Promise((r) => setTimeout(r, config.shutdownDelayMs))
      // Bounded: a close that hangs (a stuck query, a client that never reads) still ends the service.
      let timer: NodeJS.Timeout | undefined
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs)
        timer.unref()
      })
      const closed = (async () => {
        await service.stop?.()
        await service.app.close()
        await pool?.end()
      })().then(
        () => 'closed' as const,
        (closeErr: unknown) => {
          log.error({ err: closeErr }, 'shutdown failed')
          return 'failed' as const
        },
      )
      const outcome = await Promise.race([closed, timedOut])
      clearTimeout(timer)
      if (outcome === 'timeout') log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out')
      else if (outcome === 'closed') log.info('stopped')
      const code = outcome === 'closed' && err === undefined ? 0 : 1
      resolveDone(code)
      return code
    })()
    return stopping
  }

  const address = await service.app.listen({ host: config.host, port: config.port })
  log.info({ address }, `${opts.service} listening`)
  // Under a supervisor (tpipe dev) the port may be 0: report the bound one over the IPC channel, so the
  // supervisor never has to pick a port before the service binds it.
  if (process.send && process.env.TPIPE_SUPERVISOR_PID) {
    const bound = service.app.server.address()
    process.send({ tpipe: 'listening', port: typeof bound === 'object' && bound ? bound.port : config.port })
    process.channel?.unref()
  }
  await service.start?.({ address, finish: (err?: unknown) => void shutdown(err === undefined ? 'finished' : 'failed', err) })
  return { address, service, shutdown, done }
}

export async function runService<D extends DatabaseOptions | undefined = undefined>(opts: RunOptions<D>): Promise<void> {
  const { config } = opts
  const log = pino({ level: config.logLevel, base: { service: opts.service, pid: process.pid } })
  log.info({ config: redact(config) }, `starting ${opts.service}`)

  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'))

  const running = await startService(opts, log)
  void running.done.then((code) => process.exit(code))

  const shutdown = (reason: string) => void running.shutdown(reason)
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
