// mqwriter's Prometheus remote_write receiver (POST /api/v1/write, remote-write 1.0): DCGM series become
// telemetry messages with content-derived ids and go through the same WriteBuffer as publishes, so a
// 204 means committed (group commit) and a re-sent shard stores nothing new.
import { requireToken } from '../http/auth.js'
import type { FastifyInstance } from 'fastify'
import { TpipeError } from '../errors.js'
import { Counter, type Registry } from '../metrics/index.js'
import { partitionOf } from '../partitions/hash.js'
import { RemoteWriteDecodeError, decodeWriteRequest } from '../remotewrite/proto.js'
import { toTelemetry } from '../scrape/dcgm.js'
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
  maxDecodedBytes: number
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
}

export function registerRemoteWrite(app: FastifyInstance, opts: RemoteWriteOptions): void {
  const samples = new Counter({
    name: 'mqwriter_remote_write_samples_total',
    help: 'remote_write samples by outcome: accepted (committed to the queue, duplicates included), not_dcgm (name without the DCGM prefix), non_finite (NaN, stale markers, ±Inf), unmapped (no GPU uuid/index label).',
    labelNames: ['outcome'] as const,
    registers: [opts.registry],
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
        let series
        try {
          series = decodeWriteRequest(request.body, opts.maxDecodedBytes)
        } catch (err) {
          if (err instanceof RemoteWriteDecodeError) {
            if (/too big/.test(err.message)) throw new TpipeError('TPIPE_ERR_BODY_TOO_LARGE', `the decompressed WriteRequest is larger than ${opts.maxDecodedBytes} bytes`)
            throw new TpipeError('TPIPE_ERR_VALIDATION', err.message)
          }
          throw err
        }
        const stats = mapSeries(series, opts.prefix)
        samples.inc({ outcome: 'not_dcgm' }, stats.counts.not_dcgm)
        samples.inc({ outcome: 'non_finite' }, stats.counts.non_finite)
        samples.inc({ outcome: 'unmapped' }, stats.counts.unmapped)
        if (stats.rows.length > opts.bufferCapacity) {
          throw new TpipeError('TPIPE_ERR_BODY_TOO_LARGE', `${stats.rows.length} DCGM samples in one request; at most ${opts.bufferCapacity} (lower queue_config.max_samples_per_send)`)
        }
        if (stats.rows.length > 0) {
          try {
            await opts.publish(stats.rows)
          } catch (err) {
            // Prometheus 2.x drops a shard on 429 unless retry_on_http_429 is set, but always retries 5xx:
            // a full buffer is answered 503 here so that backpressure never loses samples.
            if (err instanceof TpipeError && err.code === 'TPIPE_ERR_BUFFER_FULL') {
              throw new TpipeError('TPIPE_ERR_NOT_READY', err.message, { retryAfter: err.retryAfter ?? opts.retryAfterSeconds })
            }
            throw err
          }
          samples.inc({ outcome: 'accepted' }, stats.rows.length)
        }
        return reply.status(204).send()
      },
    )
  })
}

/** WriteRequest series → queue rows (DCGM series only) and the counts of what was dropped. */
export function mapSeries(series: ReturnType<typeof decodeWriteRequest>, prefix: string): { rows: QueueRow[]; counts: RemoteWriteStats } {
  const counts: RemoteWriteStats = { accepted: 0, not_dcgm: 0, non_finite: 0, unmapped: 0 }
  const rows: QueueRow[] = []
  for (const s of series) {
    const labels: Record<string, string> = {}
    let name = ''
    for (const l of s.labels) {
      if (l.name === '__name__') name = l.value
      else labels[l.name] = l.value
    }
    if (!name.startsWith(prefix)) {
      counts.not_dcgm += s.samples.length
      continue
    }
    const host = (labels.instance ?? '').replace(/:\d+$/, '')
    for (const smp of s.samples) {
      if (!Number.isFinite(smp.value)) {
        counts.non_finite++
        continue
      }
      const m = toTelemetry(name, labels, smp.value, smp.timestamp, host)
      if (typeof m === 'string') {
        counts.unmapped++
        continue
      }
      rows.push({ msg_uuid: m.id, partition: partitionOf(m.key), key: m.key, payloadJson: JSON.stringify(m.payload) })
    }
  }
  counts.accepted = rows.length
  return { rows, counts }
}
