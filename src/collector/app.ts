// collector: leases telemetry messages from the readers, writes each lease's rows in one statement
// (telemetry + dead_letters, ON CONFLICT (msg_uuid) DO NOTHING) and acks only after that commits.
// Owns its lease loops and reader list; must not touch queue_messages (the readers own it).
// The parts: metrics.ts, readers.ts (which reader to ask), reader-client.ts (lease/ack requests),
// persist.ts (one lease → one statement), worker.ts (the lease loops), stats.ts (GET /v1/stats).
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../config/index.js'
import { ping, type Pool } from '../db/pool.js'
import { buildServer, httpLimits } from '../http/server.js'
import { createRegistry, type Registry } from '../metrics/index.js'
import { CollectorStats } from '../protocol/stats.js'
import type { LeasedMessage } from '../protocol/lease.js'
import { startDeriveLoop, type DeriveLoop } from '../telemetry/derive.js'
import { startMaintenanceLoop, type MaintenanceLoop } from '../telemetry/loop.js'
import { collectorMetrics } from './metrics.js'
import { persister } from './persist.js'
import { ReaderSet } from './readers.js'
import { collectorStats } from './stats.js'
import { LeaseLoops } from './worker.js'
import { SeriesCache } from '../telemetry/series.js'

export interface CollectorDeps {
  pool: Pool
  logger?: Logger
  registry?: Registry
  /** Replaces DNS resolution of reader host names (tests). */
  resolve?: (host: string) => Promise<string[]>
  /** Sees every non-empty lease as received, before persisting (tests check delivery order with it). */
  onLease?: (messages: readonly LeasedMessage[]) => void
}

export type CollectorConfig = Pick<
  Config,
  | 'logLevel'
  | 'bodyLimitBytes'
  | 'metricsEnabled'
  | 'readers'
  | 'collectorLeasesInFlight'
  | 'collectorLeaseSize'
  | 'collectorLeaseBytes'
  | 'collectorSeriesCacheBytes'
  | 'collectorLeaseWaitMs'
  | 'collectorLeaseVisibilityMs'
  | 'collectorErrorBackoffMs'
  | 'collectorResolveIntervalMs'
  | 'collectorReadersFile'
  | 'shutdownTimeoutMs'
  | 'queueToken'
  | 'httpRequestTimeoutMs'
  | 'httpHeadersTimeoutMs'
  | 'httpIdleTimeoutMs'
  | 'jsonMaxDepth'
  | 'maintenanceIntervalMs'
  | 'deriveIntervalMs'
  | 'telemetryPartitionMs'
  | 'telemetryRetentionMs'
  | 'rollupRetentionMs'
  | 'rollup1hRetentionMs'
>

export interface CollectorApp {
  app: FastifyInstance
  registry: Registry
  /** Starts the lease loops (resolves once the readers are resolved the first time). */
  start(): Promise<void>
  /** Stops leasing; in-flight batches are persisted and acked first (bounded by the shutdown timeout). */
  stop(): Promise<void>
}

export function buildCollector(config: CollectorConfig, deps: CollectorDeps): CollectorApp {
  const registry = deps.registry ?? createRegistry({ defaultMetrics: config.metricsEnabled })
  const metrics = collectorMetrics(registry)
  const app = buildServer({
    service: 'collector',
    logLevel: config.logLevel,
    ...(deps.logger ? { logger: deps.logger } : {}),
    bodyLimitBytes: config.bodyLimitBytes,
    limits: httpLimits(config),
    registry,
    readiness: [{ name: 'database', check: () => ping(deps.pool) }],
  })
  const log = app.log as unknown as Logger

  const urlsFile = config.collectorReadersFile
  if (!urlsFile && (!config.readers || config.readers.length === 0)) throw new Error('collector: no readers configured (--readers / TPIPE_READERS or --readers-file)')
  const readers = new ReaderSet(config.readers ?? [], {
    ...(urlsFile
      ? {
          urlsFile,
          onUrlsFile: (e: { urls?: readonly string[]; error?: string }) =>
            e.error ? log.warn({ err: e.error, readersFile: urlsFile }, 'cannot read the readers file; keeping the current readers') : log.info({ readers: e.urls }, 'reader list changed'),
        }
      : {}),
    connections: config.collectorLeasesInFlight + 1,
    waitMs: config.collectorLeaseWaitMs,
    backoffMs: config.collectorErrorBackoffMs,
    ...(deps.resolve ? { resolve: deps.resolve } : {}),
  })
  const loops = new LeaseLoops({
    leasesInFlight: config.collectorLeasesInFlight,
    leaseSize: config.collectorLeaseSize,
    leaseBytes: config.collectorLeaseBytes,
    leaseVisibilityMs: config.collectorLeaseVisibilityMs,
    errorBackoffMs: config.collectorErrorBackoffMs,
    resolveIntervalMs: config.collectorResolveIntervalMs,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    readers,
    persist: persister(deps.pool, metrics, log, new SeriesCache(config.collectorSeriesCacheBytes)),
    metrics,
    log,
    ...(deps.onLease ? { onLease: deps.onLease } : {}),
    token: config.queueToken,
  })

  app.get<{ Reply: CollectorStats }>('/v1/stats', { schema: { response: { 200: CollectorStats } } }, () =>
    collectorStats(registry, readers.list, loops.isRunning, config.collectorLeasesInFlight),
  )

  // Telemetry partitions and retention, and the derived tables (latest values, rollups): the collector is
  // the writer that needs the partitions; every replica runs both loops, advisory locks let one run at a
  // time. Derived within seconds by a job, not in each batch's statement: measured cheaper for ingest
  // (see migration 1764202000000).
  let maintenance: MaintenanceLoop | undefined
  let derive: DeriveLoop | undefined
  async function start(): Promise<void> {
    maintenance ??= startMaintenanceLoop({
      pool: deps.pool,
      registry,
      log,
      intervalMs: config.maintenanceIntervalMs,
      maintain: { partitionMs: config.telemetryPartitionMs, retentionMs: config.telemetryRetentionMs, rollupRetentionMs: config.rollupRetentionMs, rollup1hRetentionMs: config.rollup1hRetentionMs },
    })
    derive ??= startDeriveLoop({ pool: deps.pool, registry, log, intervalMs: config.deriveIntervalMs })
    await loops.start()
  }
  async function stop(): Promise<void> {
    await loops.stop()
    await Promise.all([maintenance?.stop(), derive?.stop()])
  }

  app.addHook('onClose', async () => {
    await stop()
  })

  return { app, registry, start, stop }
}
