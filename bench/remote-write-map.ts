// mqwriter's remote_write work without a database or HTTP, by stage: decode (snappy + protobuf), map to
// queue rows (series templates, ids, payload text), bundle, and the batch statement's text (flattened as
// the driver would), µs a sample. The ingest suite's fleet (500 nodes × 80 series), 2,000-sample requests,
// 400 requests after the series are registered. Run it from two checkouts, alternating, to compare builds.
//   node --import tsx bench/remote-write-map.ts
import { SeriesMapper } from '../src/mqwriter/remote-write.js'
import { insertBatch } from '../src/mqwriter/sql.js'
import { bundleRows } from '../src/protocol/bundle.js'
import { decodeWriteRequest } from '../src/remotewrite/decode.js'
import { SeriesEncoder } from '../src/remotewrite/proto.js'
import { fleet } from '../src/remotewrite/fleet.js'

const labels = fleet(500)
const encoder = new SeriesEncoder(labels)
const mapper = new SeriesMapper('DCGM_', 64 << 20)
let offset = 0
let ts = Date.now()
const bodies = Array.from({ length: 20 }, () => {
  const t = ts++
  const b = encoder.body(offset, 2000, (i) => ({ value: (t + i) % 100, timestamp: t }))
  offset = (offset + 2000) % labels.length
  return b
})
// One round over the fleet first: every series registered, as in a running mqwriter.
for (const b of bodies) mapper.registered(mapper.map(decodeWriteRequest(b, 64 << 20)).register, Date.now())

const stage = { decode: 0, map: 0, bundle: 0, statement: 0, flatten: 0 }
let samples = 0
const t0 = performance.now()
for (let i = 0; i < 400; i++) {
  let a = performance.now()
  const series = decodeWriteRequest(bodies[i % bodies.length]!, 64 << 20)
  let b = performance.now()
  stage.decode += b - a
  a = b
  const mapped = mapper.map(series)
  b = performance.now()
  stage.map += b - a
  a = b
  const rows = bundleRows(mapped.rows)
  b = performance.now()
  stage.bundle += b - a
  a = b
  const statement = insertBatch(rows)
  b = performance.now()
  stage.statement += b - a
  a = b
  for (const st of statement) for (const v of st.values) if (typeof v === "string") Buffer.byteLength(v)
  stage.flatten += performance.now() - a
  samples += mapped.rows.length
}
const us = (ms: number) => ((ms * 1000) / samples).toFixed(2)
process.stdout.write(`${samples} samples: ${us(performance.now() - t0)} µs a sample; ${Object.entries(stage).map(([k, v]) => `${k} ${us(v)}`).join(', ')}\n`)
