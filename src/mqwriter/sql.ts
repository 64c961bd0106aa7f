// Pure SQL builders for the write side. The queue is append-only from here: INSERT, never UPDATE.

export interface QueueRow {
  msg_uuid: string
  partition: number
  key: string
  payload: unknown
}

/**
 * One statement for a whole batch. The batch travels as a single JSON array parameter and
 * json_to_recordset turns it into rows on the server: the payloads are serialised once (inside the one
 * JSON.stringify of the batch) instead of once per row, and the statement text never changes, so it is
 * prepared once per connection. Duplicate msg_uuids — within the batch or already stored — are skipped.
 */
export function insertBatch(rows: readonly QueueRow[]): { name: string; text: string; values: unknown[] } {
  return {
    name: 'mqwriter_insert_batch',
    text: `INSERT INTO queue_messages (msg_uuid, partition, key, payload)
           SELECT msg_uuid, partition, key, payload
           FROM json_to_recordset($1::json) AS m(msg_uuid uuid, partition smallint, key text, payload jsonb)
           ON CONFLICT (msg_uuid) DO NOTHING`,
    values: [JSON.stringify(rows)],
  }
}

/** A single row, used only to find which messages of a failed batch are the bad ones. */
export function insertOne(row: QueueRow): { text: string; values: unknown[] } {
  return {
    text: `INSERT INTO queue_messages (msg_uuid, partition, key, payload) VALUES ($1, $2, $3, $4)
           ON CONFLICT (msg_uuid) DO NOTHING`,
    values: [row.msg_uuid, row.partition, row.key, JSON.stringify(row.payload)],
  }
}
