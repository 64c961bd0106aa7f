// collector: leases telemetry messages from the readers, writes each lease's rows in one statement
// (telemetry + dead_letters, ON CONFLICT (msg_uuid) DO NOTHING) and acks only after that commits.
// Owns its lease loops and reader list; must not touch queue_messages (the readers own it).
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../config/index.js'
import { isTransient } from '../db/errors.js'
import { ping, type Pool } from '../db/pool.js'
import { authHeader } from '../http/auth.js'
import { buildServer, httpLimits } from '../http/server.js'
import { Counter, Histogram, createRegistry, metricValue, type Registry } from '../metrics/index.js'
import { checkTelemetryPayload } from '../telemetry/payload.js'
import { ReaderSet, type Endpoint } from './readers.js'
import { insertOne, persistBatch, type DeadLetter, type TelemetryRowJson } from './sql.js'

/** An ack answers once its DELETE commits: well under this even on a busy database. */
const ACK_TIMEOUT_MS = 10_000

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
  | 'collectorLeaseWaitMs'
  | 'collectorLeaseVisibilityMs'
  | 'collectorErrorBackoffMs'
  | 'collectorResolveIntervalMs'
  | 'shutdownTimeoutMs'
  | 'queueToken'
  | 'httpRequestTimeoutMs'
  | 'httpHeadersTimeoutMs'
  | 'httpIdleTimeoutMs'
  | 'jsonMaxDepth'
>

export interface CollectorApp {
  app: FastifyInstance
  registry: Registry
  /** Starts the lease loops (resolves once the readers are resolved the first time). */
  start(): Promise<void>
  /** Stops leasing; in-flight batches are persisted and acked first (bounded by the shutdown timeout). */
  stop(): Promise<void>
}

/** One delivered message as the reader sends it. */
export interface LeasedMessage {
  msg_uuid: string
  key: string
  partition: number
  payload: unknown
  enqueued_at: string
  delivery_count: number
}

interface LeaseAnswer {
  lease_id: string | null
  expires_at: string | null
  messages: LeasedMessage[]
}

/** Splits a lease into telemetry rows and dead letters (payloads that cannot become a row). */
export function toRows(messages: readonly LeasedMessage[]): { rows: TelemetryRowJson[]; dead: DeadLetter[] } {
  const rows: TelemetryRowJson[] = []
  const dead: DeadLetter[] = []
  for (const m of messages) {
    let err: string | undefined
    try {
      err = checkTelemetryPayload(m.payload)
    } catch (e) {
      err = ` cannot be checked: ${(e as Error).message}`
    }
    if (err === undefined) {
      // The payload object itself becomes the row (json_to_recordset takes the columns it knows):
      // no copy per message, one JSON.stringify per batch.
      const row = m.payload as TelemetryRowJson
      row.msg_uuid = m.msg_uuid
      rows.push(row)
    } else {
      dead.push(deadLetter(m, `payload${err}`))
    }
  }
  return { rows, dead }
}

/**
 * Each row and dead letter serialised on its own: a message whose payload cannot be serialised (nested
 * too deep for JSON.stringify, say) becomes a dead letter with the reason instead of failing the batch.
 */
export function serialise(rows: readonly TelemetryRowJson[], dead: readonly DeadLetter[], byUuid: ReadonlyMap<string, LeasedMessage>): { rows: string[]; rowUuids: string[]; dead: string[] } {
  const out = { rows: [] as string[], rowUuids: [] as string[], dead: [] as string[] }
  const deadOut = (d: DeadLetter) => {
    try {
      out.dead.push(JSON.stringify(d))
    } catch (e) {
      // The payload itself cannot be serialised: keep the reason and where it came from, not the payload.
      out.dead.push(JSON.stringify({ ...d, payload: { unserialisable: true }, error: `${d.error}; payload not stored: ${(e as Error).message}`.slice(0, 2000) }))
    }
  }
  for (const row of rows) {
    try {
      out.rows.push(JSON.stringify(row))
      out.rowUuids.push(row.msg_uuid)
    } catch (e) {
      deadOut(deadLetter(byUuid.get(row.msg_uuid)!, `payload cannot be serialised: ${(e as Error).message}`))
    }
  }
  for (const d of dead) deadOut(d)
  return out
}

function deadLetter(m: LeasedMessage, error: string): DeadLetter {
  return {
    msg_uuid: m.msg_uuid,
    partition: m.partition,
    key: m.key,
    payload: m.payload ?? null,
    error: error.slice(0, 2000),
    delivery_count: m.delivery_count,
    enqueued_at: m.enqueued_at ?? null,
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.())

export function buildCollector(config: CollectorConfig, deps: CollectorDeps): CollectorApp {
  const registry = deps.registry ?? createRegistry({ defaultMetrics: config.metricsEnabled })
  const persisted = new Counter({ name: 'collector_rows_persisted_total', help: 'Telemetry rows inserted (redelivered duplicates excluded).', registers: [registry] })
  const received = new Counter({ name: 'collector_messages_received_total', help: 'Messages received in leases.', registers: [registry] })
  const deadLetters = new Counter({ name: 'collector_dead_letters_total', help: 'Poison messages written to dead_letters.', registers: [registry] })
  const batchDuration = new Histogram({
    name: 'collector_batch_duration_seconds',
    help: 'Time to persist one lease (one statement).',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  const leaseErrors = new Counter({ name: 'collector_lease_errors_total', help: 'Lease or ack requests that failed (reader unreachable, 5xx).', registers: [registry] })
  const ackRejected = new Counter({ name: 'collector_acks_rejected_total', help: 'Acks answered 409 (lease expired first; the rows are already persisted, redelivery is harmless).', registers: [registry] })
  const unstorable = new Counter({ name: 'collector_messages_unstorable_total', help: 'Messages the database refused even as a dead letter (logged, then acked).', registers: [registry] })
  const persistFailures = new Counter({ name: 'collector_persist_failures_total', help: 'Batches not persisted (not acked: they will be redelivered).', registers: [registry] })

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

  if (!config.readers || config.readers.length === 0) throw new Error('collector: no readers configured (--readers / TPIPE_READERS)')
  const readers = new ReaderSet(config.readers, {
    connections: config.collectorLeasesInFlight + 1,
    waitMs: config.collectorLeaseWaitMs,
    backoffMs: config.collectorErrorBackoffMs,
    ...(deps.resolve ? { resolve: deps.resolve } : {}),
  })

  let running = false
  let started: Promise<void> | undefined
  let workers: Promise<void>[] = []
  let resolveTimer: NodeJS.Timeout | undefined
  const leaseAbort = new AbortController()
  let persistFailStreak = 0

  async function post<T>(ep: Endpoint, path: string, body: unknown, signal?: AbortSignal): Promise<{ status: number; body: T }> {
    const res = await ep.http.request({
      path: ep.basePath + path,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeader(config.queueToken) },
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    })
    const parsed = (await res.body.json()) as T
    return { status: res.statusCode, body: parsed }
  }

  async function persist(messages: LeasedMessage[]): Promise<void> {
    const byUuid = new Map(messages.map((m) => [m.msg_uuid, m]))
    const t0 = process.hrtime.bigint()
    let batch: { rows: string[]; rowUuids: string[]; dead: string[] } | undefined
    try {
      const { rows, dead } = toRows(messages)
      batch = serialise(rows, dead, byUuid)
      const r = await deps.pool.query<{ inserted: number; dead: number }>(persistBatch(batch.rows, batch.dead))
      persisted.inc(r.rows[0]?.inserted ?? 0)
      deadLetters.inc(r.rows[0]?.dead ?? 0)
    } catch (err) {
      // Only the database or the network is transient: throw, the lease is not acked and the messages
      // come again. Anything else (a data error, a message our code cannot handle) is one message's
      // fault: find it alone, dead-letter it with the reason, and keep every good row of the batch.
      if (isTransient(err)) throw err
      log.warn({ err: (err as Error).message }, 'batch failed for a message; isolating the bad ones')
      await isolate(messages, byUuid)
    }
    batchDuration.observe(Number(process.hrtime.bigint() - t0) / 1e9)
  }

  /** Message by message: good rows are inserted, every failure that is not transient is dead-lettered. */
  async function isolate(messages: readonly LeasedMessage[], byUuid: ReadonlyMap<string, LeasedMessage>): Promise<void> {
    const bad: string[] = []
    let good = 0
    for (const m of messages) {
      try {
        const { rows, dead } = toRows([m])
        const one = serialise(rows, dead, byUuid)
        bad.push(...one.dead)
        if (one.rows.length === 1) {
          await deps.pool.query(insertOne(one.rows[0]!))
          good++
        }
      } catch (e) {
        if (isTransient(e)) throw e
        bad.push(...serialise([], [deadLetter(m, `cannot be stored: ${(e as Error).message}`)], byUuid).dead)
      }
    }
    persisted.inc(good)
    try {
      const r = await deps.pool.query<{ inserted: number; dead: number }>(persistBatch([], bad))
      deadLetters.inc(r.rows[0]?.dead ?? 0)
    } catch (err) {
      if (isTransient(err)) throw err
      // Even a dead letter can be refused (a key the database cannot hold): store the others, log the
      // rest loudly — acking them beats redelivering the whole lease forever.
      for (const d of bad) {
        try {
          const r = await deps.pool.query<{ inserted: number; dead: number }>(persistBatch([], [d]))
          deadLetters.inc(r.rows[0]?.dead ?? 0)
        } catch (e) {
          if (isTransient(e)) throw e
          unstorable.inc()
          log.error({ err: (e as Error).message, deadLetter: d.slice(0, 500) }, 'a message can be stored neither as telemetry nor as a dead letter; dropping it')
        }
      }
    }
  }

  async function worker(): Promise<void> {
    while (running) {
      const pick = readers.pick()
      if ('sleepMs' in pick) {
        await sleep(Math.min(pick.sleepMs, 1000))
        continue
      }
      const { ep, waitMs } = pick
      let lease: LeaseAnswer
      try {
        const body: Record<string, number> = { max: config.collectorLeaseSize, wait_ms: waitMs }
        if (config.collectorLeaseVisibilityMs !== undefined) body.visibility_timeout_ms = config.collectorLeaseVisibilityMs
        const r = await post<LeaseAnswer>(ep, '/v1/lease', body, waitMs > 0 ? leaseAbort.signal : undefined)
        if (r.status !== 200) {
          // 503 while a reader drains or has lost its database: try the others for a while.
          // Any other answer (400: a lease size over the reader's limit, 404: a wrong URL) will not fix
          // itself either: back off from that reader too instead of spinning on it.
          if (r.status < 500 && r.status !== 429) log.warn({ reader: ep.origin, status: r.status, body: r.body }, 'lease refused')
          readers.markFailed(ep)
          leaseErrors.inc()
          continue
        }
        lease = r.body
      } catch (err) {
        if (!running) break
        leaseErrors.inc()
        readers.markFailed(ep)
        log.debug({ reader: ep.origin, err: (err as Error).message }, 'lease request failed')
        continue
      }
      if (!lease.lease_id || lease.messages.length === 0) {
        readers.markEmpty(ep)
        continue
      }
      readers.markOk(ep)
      received.inc(lease.messages.length)
      deps.onLease?.(lease.messages)
      try {
        await persist(lease.messages)
        persistFailStreak = 0
      } catch (err) {
        // Never ack what was not persisted: the lease expires and the messages come again.
        persistFailures.inc()
        persistFailStreak++
        log.warn({ err: (err as Error).message, messages: lease.messages.length }, 'persist failed; not acking (the lease will expire and be redelivered)')
        await sleep(Math.min(config.collectorErrorBackoffMs * 2 ** (persistFailStreak - 1), config.collectorErrorBackoffMs * 20))
        continue
      }
      // One retry when the ack request itself fails (a reset connection): otherwise the whole lease
      // would be redelivered after its visibility timeout and persisted again (harmless, but wasted).
      // A retry of an ack that did land gets 409 (the lease is gone), which is fine.
      for (let attempt = 1; attempt <= 2; attempt++) {
        try {
          const r = await post<unknown>(ep, '/v1/ack', { lease_id: lease.lease_id }, AbortSignal.timeout(ACK_TIMEOUT_MS))
          if (r.status === 409) ackRejected.inc()
          else if (r.status !== 200) {
            leaseErrors.inc()
            log.warn({ reader: ep.origin, status: r.status, body: r.body }, 'ack refused; the messages will be redelivered (persisted already)')
          }
          break
        } catch (err) {
          leaseErrors.inc()
          log.debug({ reader: ep.origin, err: (err as Error).message, attempt }, 'ack request failed')
          if (attempt === 2) readers.markFailed(ep)
        }
      }
    }
  }

  async function start(): Promise<void> {
    if (started) return started
    started = (async () => {
      await readers.refresh()
      running = true
      resolveTimer = setInterval(() => void readers.refresh().catch(() => {}), config.collectorResolveIntervalMs)
      resolveTimer.unref()
      workers = Array.from({ length: config.collectorLeasesInFlight }, () =>
        worker().catch((err: unknown) => log.error({ err }, 'collector loop failed')),
      )
      log.info({ readers: readers.list.map((e) => e.origin), leasesInFlight: config.collectorLeasesInFlight }, 'collector started')
    })()
    return started
  }

  let stopping: Promise<void> | undefined
  function stop(): Promise<void> {
    stopping ??= (async () => {
      if (started) await started
      running = false
      clearInterval(resolveTimer)
      // Long-polls are abandoned (nothing was leased to them); batches being persisted finish and ack.
      leaseAbort.abort()
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.all(workers),
        new Promise<void>((r) => {
          timer = setTimeout(r, config.shutdownTimeoutMs)
        }),
      ])
      clearTimeout(timer)
      await readers.close()
    })()
    return stopping
  }

  app.get('/v1/stats', async () => ({
    readers: readers.list.map((e) => e.origin + e.basePath),
    running,
    leases_in_flight: config.collectorLeasesInFlight,
    messages_received_total: await metricValue(registry, 'collector_messages_received_total'),
    rows_persisted_total: await metricValue(registry, 'collector_rows_persisted_total'),
    dead_letters_total: await metricValue(registry, 'collector_dead_letters_total'),
    lease_errors_total: await metricValue(registry, 'collector_lease_errors_total'),
  }))

  app.addHook('onClose', async () => {
    await stop()
  })

  return { app, registry, start, stop }
}
