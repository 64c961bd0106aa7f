// Persisting one lease: its messages (a bundle's members each on its own) become telemetry rows and dead
// letters, written in one statement (a redelivery is a no-op: see persistBatch). Each message is checked and serialised
// on its own; when the batch fails for anything but the database or the network, the lease is
// persisted message by message and only the messages that fail are dead-lettered, with the reason.
import type { Logger } from 'pino'
import { isTransient, PG_ERROR, pgCode } from '../db/errors.js'
import type { Pool } from '../db/pool.js'
import { SERIES_FIELD, expandBundles } from '../protocol/bundle.js'
import type { LeasedMessage } from '../protocol/lease.js'
import { checkTelemetryPayload } from '../telemetry/payload.js'
import type { CollectorMetrics } from './metrics.js'
import { sleep } from '../util/async.js'
import { SeriesCache } from '../telemetry/series.js'
import { unstorableEscape } from '../protocol/unstorable.js'
import { storableMessage } from '../util/text.js'
import { TelemetryColumns } from './columns.js'
import { insertOne, persistBatch, withDuplicates, type DeadLetter, type Statement, type TelemetryRowJson } from './sql.js'

/** A batch statement that lost a race is run again at once, up to this many times in all. */
const RETRY_ATTEMPTS = 4
const RETRY_BASE_MS = 20

/**
 * The lease must come again (not be dead-lettered, not be acked): the database or the network failed, or
 * a race was still being lost after every at-once attempt (a partition attached under the statement is a
 * 23514, a data-error class, yet says nothing about the data).
 */
function mustRetry(err: unknown): boolean {
  return isTransient(err) || retryNowReason(err) !== undefined
}

/**
 * Errors that say "run the same statement again and it will go through": a deadlock or serialization
 * failure (PostgreSQL chose this statement as the victim), and a row routed to a default partition just
 * as the maintenance loop attached the partition it belongs in (the layout changed under the statement;
 * run again, it is routed to the new partition). Not the database being away: that waits for the lease.
 */
export function retryNowReason(err: unknown): 'deadlock' | 'serialization' | 'partition_moved' | undefined {
  const code = pgCode(err)
  if (code === PG_ERROR.deadlockDetected) return 'deadlock'
  if (code === PG_ERROR.serializationFailure) return 'serialization'
  const table = (err as { table?: unknown } | undefined)?.table
  return code === PG_ERROR.checkViolation && typeof table === 'string' && table.endsWith('_default') ? 'partition_moved' : undefined
}

/**
 * Splits a lease into telemetry rows and dead letters (payloads that cannot become a row). Bundles must
 * be expanded first (expandBundles); `malformed` holds the bundles that could not be, with the reason.
 */
export function toRows(messages: readonly LeasedMessage[], malformed?: ReadonlyMap<LeasedMessage, string>): { rows: TelemetryRowJson[]; dead: DeadLetter[] } {
  const rows: TelemetryRowJson[] = []
  const dead: DeadLetter[] = []
  for (const m of messages) {
    const bundleErr = malformed?.get(m)
    if (bundleErr !== undefined) {
      dead.push(deadLetter(m, `malformed bundle: ${bundleErr}`))
      continue
    }
    let err: string | undefined
    try {
      err = checkTelemetryPayload(m.payload)
    } catch (e) {
      err = ` cannot be checked: ${(e as Error).message}`
    }
    if (err === undefined) {
      // The payload object itself becomes the row (TelemetryColumns reads the columns it knows).
      const row = m.payload as TelemetryRowJson
      row.msg_uuid = m.msg_uuid
      rows.push(row)
    } else {
      dead.push(deadLetter(m, `payload${err}`))
    }
  }
  return { rows, dead }
}

function deadLetter(m: LeasedMessage, error: string): DeadLetter {
  return {
    msg_uuid: m.msg_uuid,
    partition: m.partition,
    key: m.key,
    payload: m.payload ?? null,
    error: storableMessage(error, 2000),
    delivery_count: m.delivery_count,
    enqueued_at: m.enqueued_at ?? null,
  }
}

export interface Serialised {
  rows: TelemetryColumns
  dead: string[]
  /** {"series_id","labels"} of each label set these rows carry that must be written with them. */
  series: string[]
  /** Labels JSON → series id of those series: known to the cache once the statement commits. */
  newSeries: Map<string, string>
}

/**
 * Each row and dead letter encoded on its own: a message with a value PostgreSQL cannot hold (TelemetryColumns)
 * becomes a dead letter with the reason instead of failing the batch; only the columns telemetry has are
 * read, so a payload's other fields (however deep) never matter.
 * With a series cache, a row's labels leave the row: it carries series_id, and a label set the cache has
 * not seen committed lately travels once in `series`. A row from mqwriter's remote_write receiver carries
 * its series' id (SERIES_FIELD) in place of labels, registered already: that becomes its series_id. Every
 * other row's series_id is set here (null without labels or without a cache), so a payload cannot name
 * another series' labels as its own (mqwriter refuses a publish carrying SERIES_FIELD). The payload
 * objects are left as they were (a dead letter stores the message as it came).
 */
export function serialise(rows: readonly TelemetryRowJson[], dead: readonly DeadLetter[], byUuid: ReadonlyMap<string, LeasedMessage>, cache?: SeriesCache, now = Date.now()): Serialised {
  const out: Serialised = { rows: new TelemetryColumns(), dead: [], series: [], newSeries: new Map() }
  const deadOut = (d: DeadLetter) => {
    try {
      const text = JSON.stringify(d)
      // jsonb cannot hold \u0000 or a lone surrogate: keep the payload as its JSON text (a string, lossless).
      if (unstorableEscape(text) === undefined) out.dead.push(text)
      else out.dead.push(JSON.stringify({ ...d, payload: { unstorable_json: JSON.stringify(d.payload) }, error: storableMessage(`${d.error}; payload kept as JSON text: it holds NUL or a lone surrogate, which jsonb cannot hold`, 2000) }))
    } catch (e) {
      // The payload itself cannot be serialised: keep the reason and where it came from, not the payload.
      out.dead.push(JSON.stringify({ ...d, payload: { unserialisable: true }, error: storableMessage(`${d.error}; payload not stored: ${(e as Error).message}`, 2000) }))
    }
  }
  for (const row of rows) {
    const labels = row.labels
    const hadSeries = Object.hasOwn(row, 'series_id')
    const givenSeries = row.series_id
    const ref = row[SERIES_FIELD]
    let pending: [string, string] | undefined
    try {
      if (typeof ref === 'string' && (labels === null || labels === undefined)) {
        // mqwriter registered the series in the statement that queued this row (remote_write); a publish
        // cannot carry the field (mqwriter refuses it).
        row.series_id = ref
      } else if (cache?.enabled && labels !== null && typeof labels === 'object') {
        const labelsJson = JSON.stringify(labels)
        // Checked here, since the labels leave the row: the series upsert would fail the whole statement.
        if (unstorableEscape(labelsJson) !== undefined) throw new Error('labels hold NUL or a lone UTF-16 surrogate, which PostgreSQL jsonb cannot hold')
        const { id, known } = cache.lookup(labelsJson, now)
        if (!known && !out.newSeries.has(labelsJson)) pending = [labelsJson, id]
        row.labels = undefined
        row.series_id = id
      } else {
        row.series_id = null
      }
      out.rows.add(row)
      if (pending) {
        out.newSeries.set(pending[0], pending[1])
        out.series.push(`{"series_id":"${pending[1]}","labels":${pending[0]}}`)
      }
    } catch (e) {
      deadOut(deadLetter(byUuid.get(row.msg_uuid)!, `payload cannot be stored: ${(e as Error).message}`))
    } finally {
      row.labels = labels
      if (hadSeries) row.series_id = givenSeries
      else delete row.series_id
    }
  }
  for (const d of dead) deadOut(d)
  return out
}

/**
 * A lease's messages handed to persist without anyone else keeping them: persist takes them (after which
 * only `again` can give them back, parsed anew from the lease's text) and builds its statement from them
 * in one synchronous step, so the parsed objects are garbage while the statement runs. Kept reachable
 * across that wait (the next lease is parsed meanwhile), ~16,000 samples' objects were copied by the
 * young-generation collections and promoted: perf record -p <collector> at 1 + 1 remote_write showed
 * ~15% of its samples in the scavenger and ~7% in page faults of old-space pages it promoted into.
 */
export class LeaseMessages {
  private messages: readonly LeasedMessage[] | undefined

  constructor(
    messages: readonly LeasedMessage[],
    /** The same messages, parsed again (only when a failed batch must be isolated: rare). */
    private readonly again: () => readonly LeasedMessage[],
  ) {
    this.messages = messages
  }

  /** The messages; the first call hands over the ones given, every later one parses them again. */
  take(): readonly LeasedMessage[] {
    const m = this.messages ?? this.again()
    this.messages = undefined
    return m
  }
}

/** One lease's statement and what to do once it commits, built from its messages in one synchronous step. */
function prepare(leased: readonly LeasedMessage[], cache: SeriesCache, now: number): { statement: Statement; newSeries: Map<string, string>; series: number } {
  // A bundle row is its members from here on: each becomes its own telemetry row or dead letter.
  const { messages, malformed } = expandBundles(leased)
  const byUuid = new Map(messages.map((m) => [m.msg_uuid, m]))
  const { rows, dead } = toRows(messages, malformed)
  const batch = serialise(rows, dead, byUuid, cache, now)
  return { statement: persistBatch(batch.rows, batch.dead, batch.series), newSeries: batch.newSeries, series: batch.series.length }
}

/**
 * Returns persist(messages): resolves once the lease's rows (and dead letters) are committed; throws
 * only on a transient error — the database or the network — so the lease is not acked and comes again.
 */
export function persister(pool: Pool, metrics: CollectorMetrics, log: Logger, cache = new SeriesCache(0)): (messages: readonly LeasedMessage[] | LeaseMessages) => Promise<void> {
  /**
   * Runs a statement; one that lost a race, not the data, runs again at once rather than leaving the
   * lease to its visibility timeout (30 s by default) as for an unreachable database — and a row of the
   * isolating path is never dead-lettered for a race.
   */
  async function run<R extends object>(statement: Statement): Promise<{ rows: R[] }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await pool.query<R>(statement)
      } catch (err) {
        const reason = retryNowReason(err)
        if (attempt >= RETRY_ATTEMPTS || reason === undefined) throw err
        metrics.persistRetries.inc({ reason })
        log.info({ reason, attempt }, 'persist lost a race with another transaction; running it again at once')
        await sleep(RETRY_BASE_MS * attempt * (0.5 + Math.random()))
      }
    }
  }

  /** Message by message: good rows are inserted, every failure that is not transient is dead-lettered. */
  async function isolate(messages: readonly LeasedMessage[], malformed: ReadonlyMap<LeasedMessage, string>, byUuid: ReadonlyMap<string, LeasedMessage>): Promise<void> {
    const bad: string[] = []
    let good = 0
    for (const m of messages) {
      try {
        const { rows, dead } = toRows([m], malformed)
        const now = Date.now()
        const one = serialise(rows, dead, byUuid, cache, now)
        bad.push(...one.dead)
        if (one.rows.length === 1) {
          await run(insertOne(one.rows, one.series[0]))
          cache.committed(one.newSeries, now)
          metrics.seriesWritten.inc(one.series.length)
          good++
        }
      } catch (e) {
        if (mustRetry(e)) throw e
        bad.push(...serialise([], [deadLetter(m, `cannot be stored: ${(e as Error).message}`)], byUuid).dead)
      }
    }
    metrics.persisted.inc(good)
    try {
      const r = await run<{ inserted: number; dead: number }>(persistBatch(new TelemetryColumns(), bad))
      metrics.deadLetters.inc(r.rows[0]?.dead ?? 0)
    } catch (err) {
      if (mustRetry(err)) throw err
      // Even a dead letter can be refused: store the others, log the rest loudly — acking them beats
      // redelivering the whole lease forever.
      for (const d of bad) {
        try {
          const r = await run<{ inserted: number; dead: number }>(persistBatch(new TelemetryColumns(), [d]))
          metrics.deadLetters.inc(r.rows[0]?.dead ?? 0)
        } catch (e) {
          if (mustRetry(e)) throw e
          metrics.unstorable.inc()
          log.error({ err: (e as Error).message, deadLetter: d.slice(0, 500) }, 'a message can be stored neither as telemetry nor as a dead letter; dropping it')
        }
      }
    }
  }

  return async function persist(input) {
    const t0 = process.hrtime.bigint()
    const take = () => (input instanceof LeaseMessages ? input.take() : input)
    try {
      const now = Date.now()
      const { statement, newSeries, series } = prepare(take(), cache, now)
      let r: { rows: { inserted: number; dead: number; unpartitioned: number }[] }
      try {
        r = await run(statement)
      } catch (err) {
        if (pgCode(err) !== PG_ERROR.uniqueViolation) throw err
        // A row of the batch is stored already (a redelivery): nothing of the batch stayed; write it again
        // skipping the rows that are there.
        metrics.persistDuplicates.inc()
        r = await run(withDuplicates(statement))
      }
      cache.committed(newSeries, now)
      metrics.seriesWritten.inc(series)
      metrics.persisted.inc(r.rows[0]?.inserted ?? 0)
      metrics.unpartitioned.inc(r.rows[0]?.unpartitioned ?? 0)
      metrics.deadLetters.inc(r.rows[0]?.dead ?? 0)
    } catch (err) {
      // Only the database or the network is transient: throw, the lease is not acked and comes again.
      // Anything else (a data error, a message our code cannot handle) is one message's fault.
      if (mustRetry(err)) throw err
      log.warn({ err: (err as Error).message }, 'batch failed for a message; isolating the bad ones')
      const { messages, malformed } = expandBundles(take())
      await isolate(messages, malformed, new Map(messages.map((m) => [m.msg_uuid, m])))
    }
    metrics.batchDuration.observe(Number(process.hrtime.bigint() - t0) / 1e9)
  }
}
