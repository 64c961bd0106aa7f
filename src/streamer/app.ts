// streamer: replays a DCGM exporter CSV into mqwriter, one message per publish, key = GPU uuid.
// Owns the CSV pass loop (Streamer), the publisher (undici pools to mqwriter) and the optional ack log.
// Must not touch the database: its only output is POST /v1/publish (and write-back to its own CSV).
import type { Logger } from 'pino'
import type { Config } from '../config/index.js'
import { buildServer, httpLimits } from '../http/server.js'
import type { Service, ServiceHost } from '../http/service.js'
import { Counter, Gauge, createRegistry, type Registry } from '../metrics/index.js'
import { AckLog } from './acklog.js'
import { Publisher } from './publisher.js'
import { Streamer, type StreamResult } from './streamer.js'
import type { WriteBackFs } from './writeback.js'

type StreamerConfig = Pick<
  Config,
  | 'logLevel'
  | 'bodyLimitBytes'
  | 'metricsEnabled'
  | 'streamerCsv'
  | 'streamerMqwriterUrls'
  | 'streamerLoops'
  | 'streamerRate'
  | 'streamerInFlight'
  | 'streamerShard'
  | 'streamerWriteBack'
  | 'streamerKeepTimestamps'
  | 'streamerAckLog'
  | 'streamerPublishTimeoutMs'
  | 'streamerMaxBackoffMs'
  | 'publishToken'
  | 'httpRequestTimeoutMs'
  | 'httpHeadersTimeoutMs'
  | 'httpIdleTimeoutMs'
  | 'jsonMaxDepth'
>

export interface StreamerDeps {
  logger: Logger
  registry?: Registry
  fs?: WriteBackFs
}

export interface StreamerApp extends Service {
  registry: Registry
  streamer: Streamer
  /** Streams the configured passes; resolves after the last publish is answered. */
  run(): Promise<StreamResult>
  /** Runs the streaming beside the HTTP server; with --loops N the service finishes when it is done. */
  start(host: ServiceHost): void
}

export function buildStreamer(config: StreamerConfig, deps: StreamerDeps): StreamerApp {
  if (!config.streamerCsv) throw new Error('streamer: no CSV (--csv / TPIPE_CSV)')
  const registry = deps.registry ?? createRegistry({ defaultMetrics: config.metricsEnabled })
  const log = deps.logger
  const published = new Counter({ name: 'streamer_messages_published_total', help: 'Messages mqwriter acknowledged with 201.', registers: [registry] })
  const retries = new Counter({
    name: 'streamer_publish_retries_total',
    help: 'Publish attempts retried, by reason (429, 503, 5xx, timeout, connection).',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const rejected = new Counter({ name: 'streamer_publish_rejected_total', help: 'Messages mqwriter refused with a 4xx that retrying cannot fix (logged).', registers: [registry] })
  const skipped = new Counter({ name: 'streamer_rows_skipped_total', help: 'CSV rows skipped as bad (logged with their line number).', registers: [registry] })
  const passes = new Counter({ name: 'streamer_passes_total', help: 'Completed passes over the CSV.', registers: [registry] })

  const ackLog = config.streamerAckLog ? new AckLog(config.streamerAckLog) : undefined
  const publisher = new Publisher({
    urls: config.streamerMqwriterUrls ?? [],
    inFlight: config.streamerInFlight,
    timeoutMs: config.streamerPublishTimeoutMs,
    maxBackoffMs: config.streamerMaxBackoffMs,
    token: config.publishToken,
    log,
    ackLog,
    onPublished: () => published.inc(),
    onRetry: (reason) => retries.inc({ reason }),
    onRejected: () => rejected.inc(),
  })
  new Gauge({
    name: 'streamer_publishes_in_flight',
    help: 'Publishes awaiting an answer.',
    registers: [registry],
    collect() {
      this.set(publisher.pending)
    },
  })
  const streamer = new Streamer({
    csv: config.streamerCsv,
    loops: config.streamerLoops,
    rate: config.streamerRate,
    shard: config.streamerShard,
    writeBack: config.streamerWriteBack && !config.streamerKeepTimestamps,
    keepTimestamps: config.streamerKeepTimestamps,
    log,
    publisher,
    ...(deps.fs ? { fs: deps.fs } : {}),
    onSkipped: (n) => skipped.inc(n),
    onPass: () => passes.inc(),
  })

  const app = buildServer({
    service: 'streamer',
    logger: log,
    bodyLimitBytes: config.bodyLimitBytes,
    limits: httpLimits(config),
    registry,
    readiness: [{ name: 'streaming', check: () => streamer.running }],
  })

  // What `tpipe dev` shows: rows sent and skipped so far, and why the last bad row was skipped.
  app.get('/v1/stats', async () => {
    const p = streamer.progress
    return { passes: p.passes, sent: p.sent, skipped: p.skipped, last_skip: p.lastSkip, streaming: streamer.running }
  })

  let running: Promise<StreamResult> | undefined
  app.addHook('onClose', async () => {
    streamer.stop()
    publisher.stop()
    await running?.catch(() => undefined)
    await publisher.close()
    ackLog?.close()
  })

  return {
    app,
    registry,
    streamer,
    run() {
      running ??= streamer.run()
      return running
    },
    start(host) {
      this.run().then(
        (result) => {
          log.info({ result }, 'streaming finished')
          host.finish()
        },
        (err: unknown) => host.finish(new Error(`streaming failed: ${(err as Error).message}`, { cause: err })),
      )
    },
  }
}
