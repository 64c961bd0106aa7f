// mqwriter: the write side of the queue. Owns the WriteBuffer (group commit into queue_messages) and
// the POST /v1/publish route. Must not read or delete queue rows: that is mqreader's job.
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../config/index.js'
import { ping, type Pool } from '../db/pool.js'
import { TpipeError } from '../errors.js'
import { requireToken } from '../http/auth.js'
import { buildServer, httpLimits } from '../http/server.js'
import { Counter, Gauge, Histogram, createRegistry, type Registry } from '../metrics/index.js'
import { partitionOf } from '../partitions/hash.js'
import { WriteBuffer } from './buffer.js'
import { registerRemoteWrite } from './remote-write.js'
import type { QueueRow } from './sql.js'
import { uuidv7 } from '../util/ids.js'
import { SERIES_FIELD, bundleMembers, reservedSeriesField } from '../protocol/bundle.js'
import { PublishAnswer, publishBodySchema, type PublishMessage } from '../protocol/publish.js'
import { unstorableEscape } from '../protocol/unstorable.js'
import { validatePublishBody } from './validate.js'

export interface MqwriterDeps {
  pool: Pool
  logger?: Logger
  registry?: Registry
}

type WriterConfig = Pick<
  Config,
  | 'logLevel'
  | 'bodyLimitBytes'
  | 'metricsEnabled'
  | 'writerBatchSize'
  | 'writerFlushIntervalMs'
  | 'writerBufferCapacity'
  | 'writerFlushConcurrency'
  | 'writerMaxPublishBatch'
  | 'writerRetryAfterSeconds'
  | 'writerBufferBytes'
  | 'writerBatchBytes'
  | 'writerPublishTimeoutMs'
  | 'publishToken'
  | 'httpRequestTimeoutMs'
  | 'httpHeadersTimeoutMs'
  | 'httpIdleTimeoutMs'
  | 'jsonMaxDepth'
  | 'dcgmPrefix'
  | 'bundleMax'
  | 'remoteWriteMaxDecodedBytes'
  | 'remoteWriteSeriesCacheBytes'
>

export interface MqwriterApp {
  app: FastifyInstance
  buffer: WriteBuffer
  registry: Registry
}

export function buildMqwriter(config: WriterConfig, deps: MqwriterDeps): MqwriterApp {
  const registry = deps.registry ?? createRegistry({ defaultMetrics: config.metricsEnabled })
  const published = new Counter({ name: 'mqwriter_messages_published_total', help: 'Messages committed to queue_messages (durable); a bundle row counts its members (remote_write samples).', registers: [registry] })
  const rejected = new Counter({
    name: 'mqwriter_publish_rejected_total',
    help: 'Publish requests answered with an error, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const flushDuration = new Histogram({
    name: 'mqwriter_flush_duration_seconds',
    help: 'Time to commit one batch.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  const flushBatch = new Histogram({
    name: 'mqwriter_flush_batch_size',
    help: 'Queue rows per committed batch (a bundle is one row).',
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000],
    registers: [registry],
  })
  // Callbacks use `app`, declared below: they only run after buildMqwriter has returned.
  const buffer = new WriteBuffer(deps.pool, {
    batchSize: config.writerBatchSize,
    flushIntervalMs: config.writerFlushIntervalMs,
    capacity: config.writerBufferCapacity,
    capacityBytes: config.writerBufferBytes,
    batchBytes: Math.min(config.writerBatchBytes, config.writerBufferBytes),
    flushConcurrency: config.writerFlushConcurrency,
    retryAfterSeconds: config.writerRetryAfterSeconds,
    onFlush: (n, messages, seconds) => {
      published.inc(messages)
      flushDuration.observe(seconds)
      flushBatch.observe(n)
    },
    onUnavailable: (err) => app.log.warn({ err: (err as Error).message }, 'flush failed: database unavailable'),
    onError: (err) => app.log.error({ err }, 'flush failed: isolating bad messages'),
  })

  new Gauge({
    name: 'mqwriter_buffer_utilization',
    help: 'Buffered and flushing messages / buffer capacity (0..1); the autoscaling signal.',
    registers: [registry],
    collect() {
      this.set(buffer.utilization())
    },
  })
  new Gauge({
    name: 'mqwriter_buffered_bytes',
    help: 'Bytes of serialised payloads accepted and not yet committed (bounded by TPIPE_WRITER_BUFFER_BYTES).',
    registers: [registry],
    collect() {
      this.set(buffer.pendingBytes)
    },
  })
  new Gauge({
    name: 'mqwriter_buffered_messages',
    help: 'Messages accepted and not yet committed.',
    registers: [registry],
    collect() {
      this.set(buffer.pending)
    },
  })

  const app = buildServer({
    service: 'mqwriter',
    logLevel: config.logLevel,
    ...(deps.logger ? { logger: deps.logger } : {}),
    bodyLimitBytes: config.bodyLimitBytes,
    limits: httpLimits(config),
    registry,
    readiness: [
      // A flush running longer than a publish may wait (a held lock, a frozen server): not ready.
      { name: 'flushing', check: () => buffer.oldestFlushAgeMs() <= config.writerPublishTimeoutMs },
      {
        name: 'database',
        // While flushes fail for lack of a database, probe it so readiness (and publishing) comes back.
        check: async () => {
          const ok = await ping(deps.pool)
          if (ok) buffer.markHealthy()
          return ok
        },
      },
    ],
  })

  // Watch the database from the start, not only when a publish fails: say at once (and then at most
  // every 30 s) that it is unreachable, and that it is back; recover readiness without waiting for a
  // probe. Probed every second while down or unknown, every 5 s while up.
  const dbLog = app.log as unknown as { error(o: object, m: string): void; info(o: object, m: string): void }
  let down: { since: number; lastLog: number } | undefined
  let lastProbe = 0
  let probing = false
  const probe = async () => {
    const now = Date.now()
    if (probing || (down === undefined && lastProbe > 0 && buffer.databaseHealthy && now - lastProbe < 5000)) return
    probing = true
    lastProbe = now
    try {
      const err = await deps.pool
        .query({ text: 'SELECT 1', values: [] })
        .then(() => undefined)
        .catch((e: Error) => e.message || String(e))
      if (err === undefined) {
        if (down) dbLog.info({ downForMs: Date.now() - down.since }, 'database reachable again; ready')
        down = undefined
        buffer.markHealthy()
      } else if (!down) {
        down = { since: now, lastLog: now }
        dbLog.error({ err }, 'database unreachable: not ready, publishes are answered 503; retrying every second')
      } else if (now - down.lastLog >= 30_000) {
        down.lastLog = now
        dbLog.error({ err, downForMs: now - down.since }, 'database still unreachable')
      }
    } finally {
      probing = false
    }
  }
  void probe()
  const healer = setInterval(() => void probe(), 1000)
  healer.unref()

  const REASONS: Record<number, string> = { 400: 'invalid', 401: 'unauthenticated', 403: 'forbidden', 413: 'too_large', 415: 'invalid', 429: 'buffer_full', 503: 'unavailable' }

  /**
   * Resolves when the rows commit; 503 with Retry-After when that takes longer than the publish bound.
   * Both publish paths (POST /v1/publish and remote_write) go through this.
   */
  function publishWithin(rows: QueueRow[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const committed = buffer.publish(rows)
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TpipeError('TPIPE_ERR_DB_UNAVAILABLE', `not committed within ${config.writerPublishTimeoutMs} ms (the database is slow or locked); retry with the same id`, {
              retryAfter: config.writerRetryAfterSeconds,
            }),
          ),
        config.writerPublishTimeoutMs,
      )
    })
    committed.catch(() => undefined) // answered by the timeout already: its later failure is not unhandled
    return Promise.race([committed, late]).finally(() => clearTimeout(timer))
  }

  app.post<{ Body: PublishMessage[]; Reply: PublishAnswer }>(
    '/v1/publish',
    {
      schema: {
        summary: 'Publish one message or an array of messages',
        description:
          'Answers 201 only after the batch holding the messages has committed: a success is durable. 429 with Retry-After when the buffer is full; 503 when the database is unavailable.',
        body: publishBodySchema(config.writerMaxPublishBatch),
        response: {
          201: PublishAnswer,
          400: { $ref: 'ErrorBody#' },
          413: { $ref: 'ErrorBody#' },
          429: { $ref: 'ErrorBody#' },
          503: { $ref: 'ErrorBody#' },
        },
      },
      // The schema above documents the body; this validator checks it, names the bad element/field, and
      // hands the handler its result: the body as a list of messages.
      validatorCompiler: () => (body: unknown) => {
        const r = validatePublishBody(body, config.writerMaxPublishBatch)
        return 'error' in r ? { error: new Error(r.error) } : { value: r.messages }
      },
      onRequest: requireToken(config.publishToken, 'TPIPE_PUBLISH_TOKEN'),
      onResponse: (_req, reply, done) => {
        const reason = REASONS[reply.statusCode]
        if (reason) rejected.inc({ reason })
        done()
      },
    },
    async (request, reply) => {
      const list = request.body
      const rows: QueueRow[] = new Array(list.length)
      const uuids: string[] = new Array(list.length)
      const partitions: number[] = new Array(list.length)
      let messages = 0
      for (let i = 0; i < list.length; i++) {
        const m = list[i]!
        const msg_uuid = m.id ? m.id.toLowerCase() : uuidv7()
        const partition = partitionOf(m.key)
        // Serialised here, per publish, so a payload that cannot be serialised gets this request's own
        // 400 and never fails the batch it would have joined.
        let payloadJson: string
        try {
          payloadJson = JSON.stringify(m.payload)
        } catch (err) {
          throw new TpipeError('TPIPE_ERR_VALIDATION', `body/${i}/payload cannot be serialised: ${(err as Error).message}`)
        }
        const bad = unstorableEscape(payloadJson)
        if (bad) throw new TpipeError('TPIPE_ERR_VALIDATION', `body/${i}/payload cannot be stored: it holds ${bad} (PostgreSQL text and jsonb cannot hold NUL or a lone surrogate)`)
        // A bundle (src/protocol/bundle.ts) the collector could not expand is refused now, not dead-lettered later.
        const members = bundleMembers(m.payload)
        if (typeof members === 'string') throw new TpipeError('TPIPE_ERR_VALIDATION', `body/${i}/payload is a malformed bundle: ${members}`)
        messages += members
        const reserved = reservedSeriesField(m.payload)
        if (reserved !== undefined) {
          throw new TpipeError('TPIPE_ERR_VALIDATION', `body/${i}/payload${reserved}/${SERIES_FIELD} is reserved: mqwriter sets it on remote_write samples whose series it has registered`)
        }
        rows[i] = { msg_uuid, partition, key: m.key, payloadJson, members }
        uuids[i] = msg_uuid
        partitions[i] = partition
      }
      // Bundles make one publish many messages: one larger than the whole buffer could never be taken (429 forever).
      if (messages > config.writerBufferCapacity) {
        throw new TpipeError('TPIPE_ERR_BODY_TOO_LARGE', `${messages} messages (bundle members counted) in one publish; at most ${config.writerBufferCapacity} (the buffer capacity)`)
      }
      await publishWithin(rows)
      return reply.status(201).send({ msg_uuids: uuids, partitions })
    },
  )

  registerRemoteWrite(app, {
    publish: publishWithin,
    registry,
    prefix: config.dcgmPrefix,
    bundleMax: config.bundleMax,
    maxDecodedBytes: config.remoteWriteMaxDecodedBytes,
    seriesCacheBytes: config.remoteWriteSeriesCacheBytes,
    bufferCapacity: config.writerBufferCapacity,
    retryAfterSeconds: config.writerRetryAfterSeconds,
    token: config.publishToken,
  })

  app.addHook('onClose', async () => {
    clearInterval(healer)
    await buffer.close()
  })

  return { app, buffer, registry }
}

