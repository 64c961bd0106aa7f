// Pure SQL builders for the write side. The queue is append-only from here: INSERT, never UPDATE.
import { seriesUpsert } from '../telemetry/series.js'

export interface QueueRow {
  msg_uuid: string
  partition: number
  key: string
  /** The payload already serialised, once, when its publish was accepted (never inside a flush). */
  payloadJson: string
  /** Messages the row carries: a bundle's members (src/protocol/bundle.ts); 1 when absent. */
  members?: number
  /**
   * Series to register with the row, as JSON objects {"series_id","labels"} (remote_write: the labels of
   * series whose samples carry only their id, src/mqwriter/remote-write.ts). Written in the same statement
   * as the row, so a row is never visible before its series.
   */
  series?: string[]
}

/** One row as the JSON object text the batch statement takes (payload spliced in as serialised). */
export function rowJson(r: QueueRow): string {
  return `{"msg_uuid":"${r.msg_uuid}","partition":${r.partition},"key":${JSON.stringify(r.key)},"payload":${r.payloadJson}}`
}

/** Bytes a row adds to a batch parameter (UTF-16 length is within 3x of UTF-8; good enough to bound). */
export function rowBytes(r: QueueRow): number {
  let n = r.payloadJson.length + r.key.length + 96
  if (r.series) for (const x of r.series) n += x.length
  return n
}

/** The series of rows as one JSON array, each series once (two publishes of one batch may carry the same). */
function seriesParam(rows: readonly QueueRow[]): string {
  let seen: Set<string> | undefined
  const out: string[] = []
  for (const r of rows) {
    if (!r.series) continue
    for (const x of r.series) {
      seen ??= new Set()
      if (seen.has(x)) continue
      seen.add(x)
      out.push(x)
    }
  }
  return `[${out.join(',')}]`
}

/**
 * One statement for a whole batch. The batch travels as a single JSON array parameter and
 * json_to_recordset turns it into rows on the server. The array is joined from each publish's
 * already-serialised payload (nothing is serialised here, so nothing here can throw for one message),
 * its size is bounded by the batch byte limit, and the statement text never changes (one form without
 * series, one with), so each is prepared once per connection. Duplicate msg_uuids — within the batch or already stored — are skipped.
 * The payload is taken as json, the column's type (migration 1764209400000): its text is copied as
 * written. Taken as jsonb it was parsed into a tree and printed back for the json column — measured on
 * 2,000-row batches of 371-byte payloads, 40 interleaved statements each: median 108 → 77 ms.
 */
export function insertBatch(rows: readonly QueueRow[]): { name: string; text: string; values: unknown[] } {
  const series = seriesParam(rows)
  const insert = `INSERT INTO queue_messages (msg_uuid, partition, key, payload)
           SELECT msg_uuid, partition, key, payload
           FROM json_to_recordset($1::json) AS m(msg_uuid uuid, partition smallint, key text, payload json)
           ON CONFLICT (msg_uuid) DO NOTHING`
  // Without series (every /v1/publish batch, and remote_write's once its series are registered) the plain
  // INSERT: a batch needs telemetry_series (its grant, its locks) only when it writes to it.
  const batch = '[' + rows.map(rowJson).join(',') + ']'
  if (series === '[]') return { name: 'mqwriter_insert_batch', text: insert, values: [batch] }
  return { name: 'mqwriter_insert_batch_series', text: `WITH s AS (
             ${seriesUpsert(2)}
           )
           ${insert}`, values: [batch, series] }
}

/** A single row (with its series), used only to find which messages of a failed batch are the bad ones. */
export function insertOne(row: QueueRow): { text: string; values: unknown[] } {
  const values = [row.msg_uuid, row.partition, row.key, row.payloadJson]
  const insert = `INSERT INTO queue_messages (msg_uuid, partition, key, payload) VALUES ($1, $2, $3, $4)
           ON CONFLICT (msg_uuid) DO NOTHING`
  if (!row.series?.length) return { text: insert, values }
  return {
    text: `WITH s AS (
             ${seriesUpsert(5)}
           )
           ${insert}`,
    values: [...values, seriesParam([row])],
  }
}
