// mqwriter's batch INSERT into the queue, by statement form, on the ingest suite's remote_write rows
// (500-node fleet, 2,000-sample requests bundled 256 samples a row, two requests a statement): µs of the
// database's time a sample (one session, forms interleaved, each round on fresh copies of queue_messages).
//   json      the batch as one JSON array through json_to_recordset (the form before 2026-12-01)
//   values    insertBatch: each row's values their own parameters (src/mqwriter/sql.ts)
//   external  values into a copy whose payload column is stored uncompressed (STORAGE EXTERNAL)
//   lz4       values into a copy whose payload column is compressed with lz4 (COMPRESSION lz4; only on a
//             PostgreSQL built with lz4, skipped otherwise)
// Besides the INSERT: WAL bytes a sample, bytes stored (heap + TOAST + indexes) and the µs of reading the
// payloads back as the reader does (payload::text), per form.
// The role must be allowed to CHECKPOINT (a superuser, or pg_checkpoint on PostgreSQL 15+).
// node --import tsx bench/queue-insert.ts <database url> [rounds]
import pg from 'pg'
import { SeriesMapper } from '../src/mqwriter/remote-write.js'
import { insertBatch, type QueueRow } from '../src/mqwriter/sql.js'
import { bundleRows } from '../src/protocol/bundle.js'
import { decodeWriteRequest } from '../src/remotewrite/decode.js'
import { SeriesEncoder } from '../src/remotewrite/proto.js'
import { fleet } from '../src/remotewrite/fleet.js'

const rounds = Number(process.argv[3] ?? 6)
const labels = fleet(500)
const encoder = new SeriesEncoder(labels)
const mapper = new SeriesMapper('DCGM_', 64 << 20)
let offset = 0
let ts = Date.now()
const requests: QueueRow[][] = []
for (let i = 0; i < 60; i++) {
  const t = ts++
  const m = mapper.map(decodeWriteRequest(encoder.body(offset, 2000, (k) => ({ value: (t + k) % 100, timestamp: t })), 64 << 20))
  offset = (offset + 2000) % labels.length
  mapper.registered(m.register, Date.now())
  if (i >= 20) requests.push(bundleRows(m.rows))
}

const json = (rows: readonly QueueRow[]) => ({
  name: 'bench_queue_json',
  text: `INSERT INTO bench_q_json (msg_uuid, partition, key, payload)
         SELECT msg_uuid, partition, key, payload FROM json_to_recordset($1::json) AS m(msg_uuid uuid, partition smallint, key text, payload json)
         ON CONFLICT (msg_uuid) DO NOTHING`,
  values: ['[' + rows.map((r) => `{"msg_uuid":"${r.msg_uuid}","partition":${r.partition},"key":${JSON.stringify(r.key)},"payload":${r.payloadJson}}`).join(',') + ']'],
})
const retarget = (table: string) => (rows: readonly QueueRow[]) =>
  insertBatch(rows).map((s) => ({ ...s, name: `${table}_${s.name}`, text: s.text.replace('INSERT INTO queue_messages', `INSERT INTO ${table}`) }))
const forms: Record<string, (rows: readonly QueueRow[]) => { name: string; text: string; values: unknown[] } | { name: string; text: string; values: unknown[] }[]> = {
  json,
  values: retarget('bench_q_values'),
  external: retarget('bench_q_external'),
  lz4: retarget('bench_q_lz4'),
}
const TABLES = ['bench_q_json', 'bench_q_values', 'bench_q_external', 'bench_q_lz4']

const c = new pg.Client({ connectionString: process.argv[2] })
await c.connect()
const dbMs: Record<string, number> = {}
const jsMs: Record<string, number> = {}
const wal: Record<string, number> = {}
const stored: Record<string, number> = {}
const readMs: Record<string, number> = {}
let samples = 0
let lz4 = true
for (let round = 0; round < rounds; round++) {
  for (const t of TABLES) {
    await c.query(`DROP TABLE IF EXISTS ${t}`)
    await c.query(`CREATE TABLE ${t} (LIKE queue_messages INCLUDING ALL)`)
  }
  await c.query('ALTER TABLE bench_q_external ALTER COLUMN payload SET STORAGE EXTERNAL')
  try {
    await c.query('ALTER TABLE bench_q_lz4 ALTER COLUMN payload SET COMPRESSION lz4')
  } catch (err) {
    if (lz4) console.log(`lz4 skipped: ${(err as Error).message}`)
    lz4 = false
    delete forms.lz4
  }
  const order = round % 2 === 0 ? Object.keys(forms) : Object.keys(forms).reverse()
  for (const k of order) {
    const table = `bench_q_${k}`
    // Each form after a checkpoint: the same full-page writes for each.
    await c.query('CHECKPOINT')
    const before = (await c.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l
    for (let i = 0; i + 1 < requests.length; i += 2) {
      const rows = [...requests[i]!, ...requests[i + 1]!].map((r) => ({ ...r, msg_uuid: crypto.randomUUID() }))
      if (k === 'json') samples += rows.reduce((n, r) => n + (r.members ?? 1), 0)
      const a = performance.now()
      const q = forms[k]!(rows)
      const b = performance.now()
      for (const st of Array.isArray(q) ? q : [q]) await c.query(st)
      dbMs[k] = (dbMs[k] ?? 0) + performance.now() - b
      jsMs[k] = (jsMs[k] ?? 0) + b - a
    }
    wal[k] = (wal[k] ?? 0) + Number((await c.query<{ d: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint AS d', [before])).rows[0]!.d)
    stored[k] = (stored[k] ?? 0) + Number((await c.query<{ n: string }>(`SELECT pg_total_relation_size('${table}') AS n`)).rows[0]!.n)
    const r0 = performance.now()
    await c.query(`SELECT payload::text FROM ${table}`)
    readMs[k] = (readMs[k] ?? 0) + performance.now() - r0
  }
  const us = (ms: number) => ((ms * 1000) / samples).toFixed(2)
  const bytes = (n: number) => (n / samples).toFixed(0)
  console.log(
    `round ${round + 1} (a sample, cumulative): ` +
      Object.keys(forms).map((k) => `${k} INSERT ${us(dbMs[k]!)} µs (statement text ${us(jsMs[k]!)}), WAL ${bytes(wal[k]!)} B, stored ${bytes(stored[k]!)} B, read ${us(readMs[k]!)} µs`).join(' | '),
  )
}
for (const t of TABLES) await c.query(`DROP TABLE IF EXISTS ${t}`)
await c.end()
