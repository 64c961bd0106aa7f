// Pure SQL builders for the read side. The reader only SELECTs and DELETEs queue_messages: never UPDATE.

/** Class id of tpipe's partition locks (the first int of the two-int advisory lock form): "tpip". */
export const PARTITION_LOCK_CLASS = 0x74706970

export interface Statement {
  name?: string
  text: string
  values: unknown[]
  rowMode?: 'array'
}

// The message columns every load returns, in this order (rowMode array: no per-row objects).
// payload::text is spliced into the lease answer as is; enqueued_at is formatted here so the reader
// never builds a Date per row.
const MESSAGE_COLUMNS = `q.partition, q.id, q.msg_uuid, q.key, q.payload::text,
  to_char(q.enqueued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

/** A rendered message's bytes beyond its payload and key (renderMessageHead: ids, partition, time, count), rounded up. */
const HEAD_BYTES = 160

/**
 * The refill: for each owned partition, the next rows after its cursor, walking the (partition, id)
 * index once per partition (LATERAL), at most `perPartition` each and `limit` in all. Partitions come
 * in the caller's (rotated) order, so under a backlog larger than `limit` every partition gets its turn.
 * The first two columns are the statement's snapshot xmin/xmax: the reader uses them to know when rows
 * that were still uncommitted below the cursor must have become visible (see PartitionOwner gap checks).
 * LEFT JOIN: one row (with NULL message columns) comes back even when nothing is new.
 *
 * Bounded in bytes too: only the rows, in that order, whose payloads together stay within `maxBytes`
 * (the first row always, whatever its size), so a refill never brings in more than the reader has room
 * for, however large its rows (a remote_write bundle is ~100 KB). A row counts its payload's and key's
 * bytes and HEAD_BYTES (what Msg.bytes counts, near enough); octet_length of the payload's text reads the
 * stored value's header only (no detoasting). The last column says whether rows were left out for the
 * bound (the next refill must not wait then).
 */
export function loadBatch(partitions: readonly number[], lasts: readonly number[], perPartition: number, limit: number, maxBytes = Number.MAX_SAFE_INTEGER): Statement {
  return {
    name: 'mqreader_load',
    text: `WITH s AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
                             pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax)
           SELECT s.xmin, s.xmax, m.* FROM s LEFT JOIN LATERAL (
             SELECT ${MESSAGE_COLUMNS}, q.all_bytes > $5 AS cut
             FROM (
               SELECT q.*, sum(q.b) OVER (ROWS UNBOUNDED PRECEDING) AS upto, sum(q.b) OVER () AS all_bytes
               FROM (
                 SELECT q.*, octet_length(q.payload::text) + octet_length(q.key) + ${HEAD_BYTES} AS b
                 FROM unnest($1::smallint[], $2::bigint[]) AS c(p, last)
                 CROSS JOIN LATERAL (
                   SELECT * FROM queue_messages WHERE partition = c.p AND id > c.last ORDER BY id LIMIT $3
                 ) q
                 LIMIT $4
               ) q
             ) q
             WHERE q.upto = q.b OR q.upto <= $5
           ) m ON true`,
    values: [partitions, lasts, perPartition, limit, maxBytes],
    rowMode: 'array',
  }
}

/** The ids stored in (low, high] per partition: a gap check compares them with what is in memory. */
export function gapIds(partitions: readonly number[], lows: readonly number[], highs: readonly number[]): Statement {
  return {
    name: 'mqreader_gap_ids',
    text: `SELECT q.partition, q.id
           FROM unnest($1::smallint[], $2::bigint[], $3::bigint[]) AS c(p, lo, hi)
           CROSS JOIN LATERAL (
             SELECT partition, id FROM queue_messages WHERE partition = c.p AND id > c.lo AND id <= c.hi
           ) q`,
    values: [partitions, lows, highs],
    rowMode: 'array',
  }
}

/** Full rows by id, same columns as loadBatch without the snapshot pair. */
export function rowsById(ids: readonly number[]): Statement {
  return {
    name: 'mqreader_rows_by_id',
    text: `SELECT ${MESSAGE_COLUMNS} FROM queue_messages q WHERE q.id = ANY($1::bigint[]) ORDER BY q.id`,
    values: [ids],
    rowMode: 'array',
  }
}

/** The ack: every coalesced ack of a short window in one DELETE. */
export function deleteIds(ids: readonly number[]): Statement {
  return { name: 'mqreader_delete', text: 'DELETE FROM queue_messages WHERE id = ANY($1::bigint[])', values: [ids] }
}

/** Tries every partition's lock in one round trip; returns the ones taken. Never blocks. */
export function tryLocks(partitions: readonly number[]): Statement {
  return {
    text: `SELECT p FROM unnest($1::int[]) AS p WHERE pg_try_advisory_lock(${PARTITION_LOCK_CLASS}, p)`,
    values: [partitions],
    rowMode: 'array',
  }
}

export function unlocks(partitions: readonly number[]): Statement {
  return {
    text: `SELECT pg_advisory_unlock(${PARTITION_LOCK_CLASS}, p) FROM unnest($1::int[]) AS p`,
    values: [partitions],
  }
}
