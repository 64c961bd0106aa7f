// Pure SQL builders for the collector: one statement per lease writes every telemetry row and every
// dead letter of the batch (one implicit transaction), idempotently on (ts, msg_uuid).
import { seriesUpsert } from '../telemetry/series.js'

export interface Statement {
  name?: string
  text: string
  values: unknown[]
}

/** A telemetry payload with its msg_uuid attached (json_to_recordset picks the columns it knows). */
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

const TELEMETRY_COLUMNS = 'msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts, container, pod, namespace, labels, series_id'
const TELEMETRY_RECORD = `msg_uuid uuid, gpu_uuid text, gpu_id smallint, device text, hostname text, model_name text,
  metric_name text, value double precision, ts timestamptz, container text, pod text, namespace text, labels jsonb, series_id uuid`

/**
 * The whole batch in one statement: rows and dead letters each travel as one JSON array parameter
 * (joined from each message's own serialised text: one that cannot be serialised is dead-lettered
 * alone and never fails the batch; statement text constant, so it is prepared once per connection). ON CONFLICT makes
 * a redelivered message a no-op: the table is partitioned on ts, so the key is (ts, msg_uuid), which is
 * as good because a redelivery carries the same payload, hence the same ts. Returns (inserted, dead,
 * unpartitioned) counts; unpartitioned rows went to the default partition (no partition for their time).
 */
export function persistBatch(rows: readonly string[], dead: readonly string[], series: readonly string[] = []): Statement {
  return {
    name: 'collector_persist',
    text: `WITH s AS (
             ${seriesUpsert(3)}
           ), t AS (
             INSERT INTO telemetry (${TELEMETRY_COLUMNS})
             SELECT ${TELEMETRY_COLUMNS} FROM json_to_recordset($1::json) AS r(${TELEMETRY_RECORD})
             ON CONFLICT (ts, msg_uuid) DO NOTHING RETURNING tableoid
           ), d AS (
             INSERT INTO dead_letters (msg_uuid, partition, key, payload, error, delivery_count, enqueued_at)
             SELECT msg_uuid, partition, key, payload, error, delivery_count, enqueued_at
             FROM json_to_recordset($2::json) AS x(msg_uuid uuid, partition smallint, key text, payload jsonb, error text,
                                                   delivery_count integer, enqueued_at timestamptz)
             ON CONFLICT (msg_uuid) DO NOTHING RETURNING 1
           )
           SELECT (SELECT count(*) FROM t)::int AS inserted, (SELECT count(*) FROM d)::int AS dead,
                  (SELECT count(*) FROM t WHERE tableoid = 'telemetry_default'::regclass)::int AS unpartitioned`,
    values: [`[${rows.join(',')}]`, `[${dead.join(',')}]`, `[${series.join(',')}]`],
  }
}

/**
 * One row (its serialised text) alone, with its series when it must be written: used only to find which
 * rows of a failed batch the database refuses (labels jsonb cannot hold fail the rows of that series).
 */
export function insertOne(row: string, series?: string): Statement {
  return {
    text: `WITH s AS (
             ${seriesUpsert(2)}
           )
           INSERT INTO telemetry (${TELEMETRY_COLUMNS})
           SELECT ${TELEMETRY_COLUMNS} FROM json_to_recordset($1::json) AS r(${TELEMETRY_RECORD})
           ON CONFLICT (ts, msg_uuid) DO NOTHING`,
    values: [`[${row}]`, `[${series ?? ''}]`],
  }
}
