// mqwriter's Prometheus remote_write receiver (POST /api/v1/write, remote-write 1.0): DCGM series become
// telemetry messages with content-derived ids and go through the same WriteBuffer as publishes, so a
// 204 means committed (group commit) and a re-sent shard stores nothing new.
import { requireToken } from '../http/auth.js'
import type { FastifyInstance } from 'fastify'
import { TpipeError } from '../errors.js'
import { Counter, Gauge, type Registry } from '../metrics/index.js'
import { RemoteWriteDecodeError, decodeWriteRequest, type DecodedSeries } from '../remotewrite/decode.js'
import { SeriesTemplate, type Unmapped } from '../scrape/dcgm.js'
import { bundleRows, type BundleMember } from '../protocol/bundle.js'
import type { QueueRow } from './sql.js'

export interface RemoteWriteOptions {
  /**
   * Commits rows through the WriteBuffer within the writer's publish bound (the same as POST
   * /v1/publish): resolves on commit, rejects 503 TPIPE_ERR_DB_UNAVAILABLE with Retry-After when the
   * flush does not commit in time, so a sick database never holds Prometheus's request open.
   */
  publish: (rows: QueueRow[]) => Promise<void>
  registry: Registry
  prefix: string
  /** Samples a bundle row carries at most (TPIPE_BUNDLE_MAX; 1: one row per sample). */
  bundleMax?: number | undefined
  maxDecodedBytes: number
  /** Bytes of per-series templates kept between requests (TPIPE_REMOTE_WRITE_SERIES_CACHE_BYTES). */
  seriesCacheBytes: number
  bufferCapacity: number
  retryAfterSeconds: number
  /** TPIPE_PUBLISH_TOKEN: remote_write is a publish path too (Prometheus sends it as a bearer token). */
  token?: string | undefined
}

/** A message telling what was kept and dropped; answers to Prometheus carry no body. */
export interface RemoteWriteStats {
  accepted: number
  not_dcgm: number
  non_finite: number
  unmapped: number
  bad_time: number
}

export function registerRemoteWrite(app: FastifyInstance, opts: RemoteWriteOptions): void {
  const samples = new Counter({
    name: 'mqwriter_remote_write_samples_total',
    help: 'remote_write samples by outcome: accepted (committed to the queue, duplicates included), not_dcgm (name without the DCGM prefix), non_finite (NaN, stale markers, ±Inf), unmapped (no GPU uuid/index label), bad_time (a timestamp no date can hold).',
    labelNames: ['outcome'] as const,
    registers: [opts.registry],
  })
  const registered = new Counter({
    name: 'mqwriter_remote_write_series_registered_total',
    help: 'remote_write series whose labels were written to telemetry_series with the queue rows (first seen, or due again after an hour); their samples carry only the series id.',
    registers: [opts.registry],
  })
  const mapper = new SeriesMapper(opts.prefix, opts.seriesCacheBytes)
  new Gauge({
    name: 'mqwriter_remote_write_series_cache_bytes',
    help: 'Approximate bytes of the remote_write series templates kept between requests (bounded by TPIPE_REMOTE_WRITE_SERIES_CACHE_BYTES).',
    registers: [opts.registry],
    collect() {
      this.set(mapper.bytes)
    },
  })

  // Encapsulated: the protobuf body parser applies to this route only.
  void app.register(async (scope) => {
    scope.addContentTypeParser(['application/x-protobuf', 'application/octet-stream'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
    scope.post(
      '/api/v1/write',
      {
        onRequest: requireToken(opts.token, 'TPIPE_PUBLISH_TOKEN'),
        schema: {
          summary: 'Prometheus remote_write 1.0 receiver (protobuf, snappy)',
          description:
            'Series whose name starts with the DCGM prefix become telemetry messages (ids from series and sample time, so re-sent samples are stored once); the rest are counted and dropped. 204 only after the samples are committed; 400 for a malformed body (not retried by Prometheus); 503 with Retry-After when the buffer is full, the database unavailable, or the samples not committed within TPIPE_WRITER_PUBLISH_TIMEOUT_MS (retried).',
          response: { 204: { type: 'null' }, 400: { $ref: 'ErrorBody#' }, 413: { $ref: 'ErrorBody#' }, 415: { $ref: 'ErrorBody#' }, 503: { $ref: 'ErrorBody#' } },
        },
      },
      async (request, reply) => {
        const enc = String(request.headers['content-encoding'] ?? 'snappy').toLowerCase()
        if (enc !== 'snappy') throw new TpipeError('TPIPE_ERR_VALIDATION', `Content-Encoding ${enc} is not supported; remote-write 1.0 bodies are snappy-compressed`)
        if (!Buffer.isBuffer(request.body)) throw new TpipeError('TPIPE_ERR_VALIDATION', 'the body must be a snappy-compressed protobuf WriteRequest (Content-Type: application/x-protobuf)')
        const now = Date.now()
        // Decoding, mapping and bundling in one synchronous step: only the bundle rows (Buffers, outside the
        // heap) live on while the publish waits for its group commit, not the request's per-sample objects.
        const { rows, counts, register } = toQueueRows(request.body, mapper, opts, now)
        samples.inc({ outcome: 'not_dcgm' }, counts.not_dcgm)
        samples.inc({ outcome: 'non_finite' }, counts.non_finite)
        samples.inc({ outcome: 'unmapped' }, counts.unmapped)
        samples.inc({ outcome: 'bad_time' }, counts.bad_time)
        if (rows.length > 0) {
          try {
            await opts.publish(rows)
            mapper.registered(register, now)
            registered.inc(register.length)
          } catch (err) {
            // Prometheus 2.x drops a shard on 429 unless retry_on_http_429 is set, but always retries 5xx:
            // a full buffer is answered 503 here so that backpressure never loses samples.
            if (err instanceof TpipeError && err.code === 'TPIPE_ERR_BUFFER_FULL') {
              throw new TpipeError('TPIPE_ERR_NOT_READY', err.message, { retryAfter: err.retryAfter ?? opts.retryAfterSeconds })
            }
            throw err
          }
          samples.inc({ outcome: 'accepted' }, counts.accepted)
        }
        return reply.status(204).send()
      },
    )
  })
}

/**
 * A WriteRequest body → the queue rows of its DCGM samples (bundles: many samples to a queue row, whose
 * per-row work they share; the collector expands them again, src/protocol/bundle.ts), the counts of
 * what was kept and dropped, and the series to register with the rows. Throws a TpipeError for a body
 * that is not a WriteRequest, or one with more DCGM samples than the buffer holds.
 */
function toQueueRows(body: Buffer, mapper: SeriesMapper, opts: RemoteWriteOptions, now: number): { rows: QueueRow[]; counts: RemoteWriteStats; register: SeriesTemplate[] } {
  let series
  try {
    series = decodeWriteRequest(body, opts.maxDecodedBytes)
  } catch (err) {
    if (err instanceof RemoteWriteDecodeError) {
      if (/too big/.test(err.message)) throw new TpipeError('TPIPE_ERR_BODY_TOO_LARGE', `the decompressed WriteRequest is larger than ${opts.maxDecodedBytes} bytes`)
      throw new TpipeError('TPIPE_ERR_VALIDATION', err.message)
    }
    throw err
  }
  const stats = mapper.map(series, now)
  if (stats.rows.length > opts.bufferCapacity) {
    throw new TpipeError('TPIPE_ERR_BODY_TOO_LARGE', `${stats.rows.length} DCGM samples in one request; at most ${opts.bufferCapacity} (lower queue_config.max_samples_per_send)`)
  }
  if (stats.rows.length === 0) return { rows: [], counts: stats.counts, register: stats.register }
  const rows = bundleRows(stats.rows, opts.bundleMax)
  // The series whose samples carry only their id are written in the same statement as the rows (a
  // publish's rows all go into one batch): no row is visible before its series.
  if (stats.register.length > 0) rows[0]!.series = stats.register.map((t) => t.seriesJson!)
  return { rows, counts: stats.counts, register: stats.register }
}

const NOT_DCGM = 'not_dcgm'

/** One sample's queue row (its payload's JSON text), before bundling. */
export type SampleRow = BundleMember & { partition: number }

/** A cache entry's bytes: its key (Latin-1: one byte a character), the template, and the Map's own share. */
function entryBytes(key: string, t: SeriesTemplate | string): number {
  return key.length + 80 + (typeof t === 'string' ? 0 : t.bytes)
}

/**
 * WriteRequest series → queue rows (DCGM series only) and the counts of what was dropped. A sender
 * sends the same series in every request: what a series' samples share (mapping, id identity, payload
 * JSON around time and value) is worked out once and kept, keyed by the series' label bytes, in a
 * cache bounded in bytes (when full, the older half goes; a dropped entry is only recomputed).
 */
export class SeriesMapper {
  private readonly cache = new Map<string, SeriesTemplate | Unmapped | typeof NOT_DCGM>()
  bytes = 0
  private evictedAt = -Infinity

  constructor(
    private readonly prefix: string,
    private readonly maxBytes: number,
    /** How long a registered series counts as registered (spread over its last quarter); 1 h like the collector's. */
    private readonly refreshMs = 3_600_000,
  ) {}

  private template(s: DecodedSeries): SeriesTemplate | Unmapped | typeof NOT_DCGM {
    const hit = this.cache.get(s.key)
    if (hit !== undefined) return hit
    const labels: Record<string, string> = {}
    let name = ''
    for (const l of s.labels()) {
      if (l.name === '__name__') name = l.value
      else labels[l.name] = l.value
    }
    const t = name.startsWith(this.prefix) ? SeriesTemplate.of(name, labels, (labels.instance ?? '').replace(/:\d+$/, '')) : NOT_DCGM
    const size = entryBytes(s.key, t)
    if (this.bytes + size > this.maxBytes) {
      // Full. Senders cycle through their series in the same order every time: evicting on every miss
      // would make every lookup a miss once the series outnumber the cache. Keep what is cached (a
      // share of the series hits) and make room at most once a minute, for a fleet that changed.
      const now = performance.now()
      if (now - this.evictedAt < 60_000) return t
      this.evictedAt = now
      this.evict()
      if (this.bytes + size > this.maxBytes) return t
    }
    this.cache.set(s.key, t)
    this.bytes += size
    if (typeof t !== 'string') t.cached = true
    return t
  }

  /** Drops the older half (Map order is insertion order). */
  private evict(): void {
    const target = this.maxBytes / 2
    for (const [k, t] of this.cache) {
      if (this.bytes <= target) break
      this.cache.delete(k)
      this.bytes -= entryBytes(k, t)
    }
  }

  /**
   * Maps a request's series. A sample's payload carries its series id in place of the labels (SERIES_FIELD):
   * about 40% of its bytes, which the queue, the readers and the collectors no longer move and parse.
   * `register` lists the series that must be written to telemetry_series with these rows: those not
   * registered (committed) within the last refresh interval, which also keeps their last_seen fresh for
   * the maintenance pass.
   */
  map(series: readonly DecodedSeries[], now = Date.now()): { rows: SampleRow[]; counts: RemoteWriteStats; register: SeriesTemplate[] } {
    const counts: RemoteWriteStats = { accepted: 0, not_dcgm: 0, non_finite: 0, unmapped: 0, bad_time: 0 }
    const rows: SampleRow[] = []
    const register: SeriesTemplate[] = []
    for (const s of series) {
      const n = s.samples.length / 2
      if (n === 0) continue
      const t = this.template(s)
      if (t === NOT_DCGM) {
        counts.not_dcgm += n
        continue
      }
      if (typeof t === 'string') {
        // Counted only for samples that would otherwise be kept, as before (non-finite ones first).
        for (let i = 0; i < s.samples.length; i += 2) {
          if (!Number.isFinite(s.samples[i]!)) counts.non_finite++
          else counts.unmapped++
        }
        continue
      }
      const before = rows.length
      // A template the full cache could not keep forgets its registration with the request: its samples keep
      // their labels (the collector's own series cache takes over) rather than registering every request.
      const ref = t.cached && t.seriesJson !== undefined
      for (let i = 0; i < s.samples.length; i += 2) {
        const value = s.samples[i]!
        const ts = s.samples[i + 1]!
        if (!Number.isFinite(value)) counts.non_finite++
        else if (!(Math.abs(ts) <= MAX_DATE_MS)) counts.bad_time++
        else rows.push({ msg_uuid: t.id(ts), partition: t.partition, key: t.key, payloadJson: ref ? t.payloadJsonRef(value, ts) : t.payloadJson(value, ts) })
      }
      // Twice in one request (the same series sent twice) is one registration.
      if (rows.length > before && ref && t.registeredUntil <= now) {
        t.registeredUntil = Infinity
        register.push(t)
      }
    }
    counts.accepted = rows.length
    // Not registered yet: until the publish commits (registered()), another request registers them too.
    for (const t of register) t.registeredUntil = 0
    return { rows, counts, register }
  }

  /** After the publish that carried them committed: these series count as registered for a while. */
  registered(templates: readonly SeriesTemplate[], now: number): void {
    for (const t of templates) t.registeredUntil = now + this.refreshMs * (0.75 + 0.25 * Math.random())
  }
}

/** The largest |ms| a JavaScript Date holds (±275,760 years); PostgreSQL's timestamptz holds more. */
const MAX_DATE_MS = 8.64e15
