// How honest mqwriter's remote_write series cache bound is: the bytes its estimate counts against the heap
// the cached templates really take (after a full GC), a series at a time, on the ingest suite's fleet
// (dcgm-exporter's labels as Prometheus sends them, 500 nodes × 8 GPUs × 10 metrics).
//   node --expose-gc --import tsx bench/series-cache-heap.ts
import { SeriesMapper } from '../src/mqwriter/remote-write.js'
import { decodeWriteRequest } from '../src/remotewrite/decode.js'
import { SeriesEncoder } from '../src/remotewrite/proto.js'
import { fleet } from '../src/remotewrite/fleet.js'

const gc = globalThis.gc
if (!gc) throw new Error('run with node --expose-gc')
const labels = fleet(500)
const encoder = new SeriesEncoder(labels)
const bodies = Array.from({ length: labels.length / 2000 }, (_, i) => encoder.body(i * 2000, 2000, () => ({ value: 1, timestamp: 5 })))
const mapper = new SeriesMapper('DCGM_', 1 << 30)
gc()
const before = process.memoryUsage().heapUsed
for (const b of bodies) mapper.registered(mapper.map(decodeWriteRequest(b, 64 << 20)).register, 10)
gc()
const heap = process.memoryUsage().heapUsed - before
const n = labels.length
process.stdout.write(`${n} series cached: estimated ${(mapper.bytes / n).toFixed(0)} B a series, heap ${(heap / n).toFixed(0)} B a series\n`)
