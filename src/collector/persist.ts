// Persisting one lease: its messages become telemetry rows and dead letters, written in one statement
// (ON CONFLICT (msg_uuid) DO NOTHING: a redelivery is a no-op). A batch the database refuses is split to
// find the rows it refuses; only those are dead-lettered.
import type { Logger } from 'pino'
import { isDataError } from '../db/errors.js'
import type { Pool } from '../db/pool.js'
import type { LeasedMessage } from '../protocol/lease.js'
import { checkTelemetryPayload } from '../telemetry/payload.js'
import type { CollectorMetrics } from './metrics.js'
import { insertOne, persistBatch, type DeadLetter, type TelemetryRowJson } from './sql.js'

/** Splits a lease into telemetry rows and dead letters (payloads that cannot become a row). */
export function toRows(messages: readonly LeasedMessage[]): { rows: TelemetryRowJson[]; dead: DeadLetter[] } {
  const rows: TelemetryRowJson[] = []
  const dead: DeadLetter[] = []
  for (const m of messages) {
    const err = checkTelemetryPayload(m.payload)
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

/**
 * Returns persist(messages): resolves once the lease's rows are committed; throws on a transient error
 * (the lease must then not be acked: it expires and comes again).
 */
export function persister(pool: Pool, metrics: CollectorMetrics, log: Logger): (messages: readonly LeasedMessage[]) => Promise<void> {
  return async function persist(messages) {
    const { rows, dead } = toRows(messages)
    const t0 = process.hrtime.bigint()
    try {
      const r = await pool.query<{ inserted: number; dead: number; unpartitioned: number }>(persistBatch(rows, dead))
      metrics.persisted.inc(r.rows[0]?.inserted ?? 0)
      metrics.unpartitioned.inc(r.rows[0]?.unpartitioned ?? 0)
      metrics.deadLetters.inc(r.rows[0]?.dead ?? 0)
    } catch (err) {
      // Only a data error can be a poison row; anything else (deadlock, lost connection, timeout) is
      // transient: throw, so the lease is not acked and the messages come again.
      if (!isDataError(err)) throw err
      // A row the schema accepted but the database refuses fails the whole statement: find it alone,
      // dead-letter it, and keep every good row of the batch.
      log.warn({ err: (err as Error).message }, 'batch refused by the database; isolating the bad rows')
      const good: TelemetryRowJson[] = []
      const bad: DeadLetter[] = [...dead]
      const byUuid = new Map(messages.map((m) => [m.msg_uuid, m]))
      for (const row of rows) {
        try {
          await pool.query(insertOne(row))
          good.push(row)
        } catch (e) {
          if (!isDataError(e)) throw e
          bad.push(deadLetter(byUuid.get(row.msg_uuid)!, `database: ${(e as Error).message}`))
        }
      }
      const r = await pool.query<{ inserted: number; dead: number }>(persistBatch([], bad))
      metrics.persisted.inc(good.length)
      metrics.deadLetters.inc(r.rows[0]?.dead ?? 0)
    }
    metrics.batchDuration.observe(Number(process.hrtime.bigint() - t0) / 1e9)
  }
}
