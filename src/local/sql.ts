// Every SQL statement of the local supervisor (the live view, the drain before shutdown, the totals).
// The pool is created with a connection timeout and a statement timeout (see devPool), so a database
// that hangs cannot freeze the view or a stop.
import { createPool, type Pool } from '../db/pool.js'

/** Queue depth is counted up to this cap: a very deep queue cannot make the status itself slow. */
export const QUEUE_COUNT_CAP = 1_000_000

export function devPool(url: string): Pool {
  return createPool(url, { max: 2, applicationName: 'tpipe-dev', connectionTimeoutMs: 2000, statementTimeoutMs: 5000, onError: () => {} })
}

export interface QueueCounts {
  queueDepth: number
  deadLetters: number
}

export async function queueCounts(pool: Pool): Promise<QueueCounts> {
  const r = await pool.query<{ q: string; d: string }>(
    `SELECT (SELECT count(*) FROM (SELECT 1 FROM queue_messages LIMIT ${QUEUE_COUNT_CAP}) s) AS q,
            (SELECT count(*) FROM dead_letters) AS d`,
  )
  return { queueDepth: Number(r.rows[0]!.q), deadLetters: Number(r.rows[0]!.d) }
}

/** Rows in telemetry, for the totals printed when `tpipe dev` stops. */
export async function telemetryRows(pool: Pool): Promise<number> {
  const r = await pool.query<{ n: string }>('SELECT count(*) AS n FROM telemetry')
  return Number(r.rows[0]!.n)
}
