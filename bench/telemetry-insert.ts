// The collector's persist statement, by the form its rows travel in, on remote_write-shaped rows (the ingest
// suite's 500-node fleet, series ids in place of labels, 1,650 rows a statement like a lease of ~6 bundles):
// µs a row of the database's time (each statement inside BEGIN … ROLLBACK on the real telemetry table, so
// its triggers run and every statement sees the same table) and of the collector's JS (building the
// parameters). One session, forms interleaved, order alternating each round.
//   json     one JSON array through json_to_recordset, ON CONFLICT DO NOTHING (the form before 2026-12-01)
//   columns  one array literal a column through unnest (src/collector/columns.ts), ON CONFLICT DO NOTHING
//   plain    the same without ON CONFLICT: how a batch is written first (src/collector/sql.ts persistBatch)
// With `triggers` after the rounds, instead: plain against plain with telemetry's ingest triggers disabled in
// its transaction (all; the gpus upsert; the latest-value log and dirty minutes): what each trigger costs a
// row. Every payload's rows are stored once first (committed), so the gpus trigger finds each GPU current, as
// it does for most rows under live ingest (a GPU's row is rewritten once a second at most).
// node --import tsx bench/telemetry-insert.ts <database url of a migrated database> [rounds] [triggers]
import pg from 'pg'
import { columnsOf } from '../src/collector/columns.js'
import { persistBatch, withDuplicates } from '../src/collector/sql.js'
import { SeriesMapper } from '../src/mqwriter/remote-write.js'
import { decodeWriteRequest } from '../src/remotewrite/decode.js'
import { SeriesEncoder } from '../src/remotewrite/proto.js'
import { seriesUpsert } from '../src/telemetry/series.js'
import { fleet } from '../src/remotewrite/fleet.js'

const ROWS = 1650
const rounds = Number(process.argv[3] ?? 6)
const labels = fleet(500)
const encoder = new SeriesEncoder(labels)
const mapper = new SeriesMapper('DCGM_', 64 << 20)
const payloads: Record<string, unknown>[][] = []
let offset = 0
for (let i = 0; i < 40; i++) {
  const t = Date.now() - 60_000 + i * 10
  const m = mapper.map(decodeWriteRequest(encoder.body(offset, ROWS, (k) => ({ value: (t + k) % 100, timestamp: t })), 64 << 20))
  offset = (offset + ROWS) % labels.length
  mapper.registered(m.register, Date.now())
  if (i >= 20) payloads.push(m.rows.map((r) => ({ ...(JSON.parse(r.payloadJson) as Record<string, unknown>), msg_uuid: r.msg_uuid })))
}
const rows = (k: number) =>
  payloads[k % payloads.length]!.map((p) => {
    const r: Record<string, unknown> = { ...p, msg_uuid: crypto.randomUUID(), series_id: p.tpipe_series ?? null }
    delete r.tpipe_series
    return r
  })

const COLUMNS = 'msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts, container, pod, namespace, labels, series_id'
const jsonForm = (rs: Record<string, unknown>[]) => ({
  name: 'bench_persist_json',
  text: `WITH s AS (${seriesUpsert(3)}), t AS (
           INSERT INTO telemetry (${COLUMNS}) SELECT ${COLUMNS} FROM json_to_recordset($1::json) AS r(msg_uuid uuid, gpu_uuid text, gpu_id smallint,
             device text, hostname text, model_name text, metric_name text, value double precision, ts timestamptz, container text, pod text,
             namespace text, labels jsonb, series_id uuid)
           ON CONFLICT (ts, msg_uuid) DO NOTHING RETURNING 1)
         SELECT (SELECT count(*) FROM t)::int AS inserted, $2::json IS NULL AS d`,
  values: ['[' + rs.map((r) => JSON.stringify(r)).join(',') + ']', '[]', '[]'],
})
const plain = (rs: Record<string, unknown>[]) => persistBatch(columnsOf(rs), [])
const triggers = process.argv[4] === 'triggers'
const forms: Record<string, (rs: Record<string, unknown>[]) => { text: string; values: unknown[] }> = triggers
  ? { plain, 'no-triggers': plain, 'no-gpus': plain, 'no-latest': plain }
  : { json: jsonForm, columns: (rs) => withDuplicates(plain(rs)), plain }
/** Run inside the form's transaction before its statement (rolled back with it). */
const setup: Record<string, string> = {
  'no-triggers': 'ALTER TABLE telemetry DISABLE TRIGGER USER',
  'no-gpus': 'ALTER TABLE telemetry DISABLE TRIGGER telemetry_gpus_after_insert',
  'no-latest': 'ALTER TABLE telemetry DISABLE TRIGGER telemetry_mark_dirty_after_insert',
}

const c = new pg.Client({ connectionString: process.argv[2] })
await c.connect()
if (triggers) {
  for (let k = 0; k < payloads.length; k++) await c.query(plain(rows(k)))
}
const db: Record<string, number> = {}
const js: Record<string, number> = {}
let n = 0
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? Object.keys(forms) : Object.keys(forms).reverse()
  for (const f of order) {
    for (let k = 0; k < 10; k++) {
      const rs = rows(k)
      if (f === 'plain') n += rs.length
      const a = performance.now()
      const q = forms[f]!(rs)
      const b = performance.now()
      await c.query('BEGIN')
      if (setup[f]) await c.query(setup[f])
      const t0 = performance.now()
      const r = await c.query(q)
      db[f] = (db[f] ?? 0) + performance.now() - t0
      await c.query('ROLLBACK')
      js[f] = (js[f] ?? 0) + b - a
      if (r.rows[0].inserted !== rs.length) throw new Error(`${f}: inserted ${r.rows[0].inserted} of ${rs.length}`)
    }
  }
  const us = (ms: number) => ((ms * 1000) / n).toFixed(2)
  console.log(`round ${round + 1}: ` + Object.keys(forms).map((f) => `${f} ${us(db[f]!)} µs a row (JS ${us(js[f]!)})`).join(' | '))
}
await c.end()
