// Pure SQL builders for the collector: one statement per lease writes every telemetry row and every
// dead letter of the batch (one implicit transaction), idempotently on (ts, msg_uuid).
import { seriesUpsert } from '../telemetry/series.js'
import { TELEMETRY_COLUMNS, type TelemetryColumns } from './columns.js'

export interface Statement {
  name?: string
  text: string
  values: unknown[]
}

/** A telemetry payload with its msg_uuid attached (TelemetryColumns takes the columns it knows). */
export type TelemetryRowJson = Record<string, unknown> & { msg_uuid: string }

export interface DeadLetter {
  msg_uuid: string
  partition: number
  key: string
  payload: unknown
  error: string
  delivery_count: number
  enqueued_at: string | null
}

const COLUMN_LIST = TELEMETRY_COLUMNS.map(([name]) => name).join(', ')

/**
 * INSERT … SELECT FROM unnest of one array parameter a column, from parameter `first` on. `duplicates`:
 * with ON CONFLICT (ts, msg_uuid) DO NOTHING, for a batch that holds rows already stored.
 */
const insertText = (first: number, duplicates: boolean): string => `INSERT INTO telemetry (${COLUMN_LIST})
             SELECT * FROM unnest(${TELEMETRY_COLUMNS.map(([, type], i) => `$${first + i}::${type}[]`).join(', ')})${duplicates ? '\n             ON CONFLICT (ts, msg_uuid) DO NOTHING' : ''}`

const persistText = (duplicates: boolean): string => `WITH s AS (
             ${seriesUpsert(2)}
           ), t AS (
             ${insertText(3, duplicates)} RETURNING tableoid
           ), d AS (
             INSERT INTO dead_letters (msg_uuid, partition, key, payload, error, delivery_count, enqueued_at)
             SELECT msg_uuid, partition, key, payload, error, delivery_count, enqueued_at
             FROM json_to_recordset($1::json) AS x(msg_uuid uuid, partition smallint, key text, payload jsonb, error text,
                                                   delivery_count integer, enqueued_at timestamptz)
             ON CONFLICT (msg_uuid) DO NOTHING RETURNING 1
           )
           SELECT (SELECT count(*) FROM t)::int AS inserted, (SELECT count(*) FROM d)::int AS dead,
                  (SELECT count(*) FROM t WHERE tableoid = 'telemetry_default'::regclass)::int AS unpartitioned`
const PERSIST_TEXT = persistText(false)
const PERSIST_DUPLICATES_TEXT = persistText(true)

/**
 * The whole batch in one statement: rows travel as one array parameter a column (TelemetryColumns:
 * a row whose value cannot be stored is dead-lettered alone and never fails the batch), dead letters as
 * one JSON array; the statement text is constant, so it is prepared once per connection. Returns
 * (inserted, dead, unpartitioned) counts; unpartitioned rows went to the default partition (no partition
 * for their time).
 *
 * A batch is written first without ON CONFLICT: a row already stored fails it with a unique violation
 * (23505) and nothing of it stays; it is then written again with `duplicates`, where ON CONFLICT (ts,
 * msg_uuid) DO NOTHING makes a redelivered message a no-op (the table is partitioned on ts, so the key is
 * (ts, msg_uuid), as good because a redelivery carries the same payload, hence the same ts). Redeliveries
 * are rare; the speculative insertion ON CONFLICT needs costs every row of every batch about 2 µs of the
 * database's time (bench/telemetry-insert.ts, `plain` against `columns`).
 */
export function persistBatch(rows: TelemetryColumns, dead: readonly string[], series: readonly string[] = []): Statement {
  return { name: 'collector_persist', text: PERSIST_TEXT, values: [`[${dead.join(',')}]`, `[${series.join(',')}]`, ...rows.literals()] }
}

/** The same batch with ON CONFLICT (ts, msg_uuid) DO NOTHING, for when it failed on a row already stored. */
export function withDuplicates(batch: Statement): Statement {
  return { name: 'collector_persist_duplicates', text: PERSIST_DUPLICATES_TEXT, values: batch.values }
}

const ONE_TEXT = `WITH s AS (
             ${seriesUpsert(1)}
           )
           ${insertText(2, true)}`

/**
 * One row (a single-row TelemetryColumns) alone, with its series when it must be written: used only to
 * find which rows of a failed batch the database refuses.
 */
export function insertOne(row: TelemetryColumns, series?: string): Statement {
  return { text: ONE_TEXT, values: [`[${series ?? ''}]`, ...row.literals()] }
}
