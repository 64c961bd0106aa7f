// mqwriter's batch INSERT into the queue, by statement form, on the ingest suite's remote_write rows
// (500-node fleet, 2,000-sample requests bundled 256 samples a row, two requests a statement): µs of the
// database's time a sample (one session, forms interleaved, each round on fresh copies of queue_messages).
//   json      the batch as one JSON array through json_to_recordset (the form before 2026-12-01)
//   values    insertBatch: each row's values their own parameters (src/mqwriter/sql.ts)
//   external  values into a copy whose payload column is stored uncompressed (STORAGE EXTERNAL)
// node --import tsx bench/queue-insert.ts <database url> [rounds]
import pg from 'pg'
import { SeriesMapper } from '../src/mqwriter/remote-write.js'
import { insertBatch, type QueueRow } from '../src/mqwriter/sql.js'
import { bundleRows } from '../src/protocol/bundle.js'
import { decodeWriteRequest } from '../src/remotewrite/decode.js'
import { SeriesEncoder } from '../src/remotewrite/proto.js'
import { fleet } from './rw-fleet.js'

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
}

const c = new pg.Client({ connectionString: process.argv[2] })
await c.connect()
const dbMs: Record<string, number> = {}
const jsMs: Record<string, number> = {}
let samples = 0
for (let round = 0; round < rounds; round++) {
  for (const t of ['bench_q_json', 'bench_q_values', 'bench_q_external']) {
    await c.query(`DROP TABLE IF EXISTS ${t}`)
    await c.query(`CREATE TABLE ${t} (LIKE queue_messages INCLUDING ALL)`)
  }
  await c.query('ALTER TABLE bench_q_external ALTER COLUMN payload SET STORAGE EXTERNAL')
  const order = round % 2 === 0 ? Object.keys(forms) : Object.keys(forms).reverse()
  for (const k of order) {
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
  }
  const us = (ms: number) => ((ms * 1000) / samples).toFixed(2)
  console.log(`round ${round + 1}: ` + Object.keys(forms).map((k) => `${k} ${us(dbMs[k]!)} µs a sample (statement text ${us(jsMs[k]!)})`).join(' | '))
}
for (const t of ['bench_q_json', 'bench_q_values', 'bench_q_external']) await c.query(`DROP TABLE ${t}`)
await c.end()
