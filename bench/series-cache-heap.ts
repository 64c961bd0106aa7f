// How honest the series caches' byte bounds are: the bytes each cache's estimate counts against the heap
// its entries really take (after a full GC), a series at a time, on the ingest suite's fleet (dcgm-exporter's
// labels as Prometheus sends them, 500 nodes × 8 GPUs × 10 metrics): mqwriter's remote_write templates
// (SeriesMapper) and the collector's remembered label sets (SeriesCache, keys as the collector makes them).
// test/cache-heap.test.ts runs it and holds each estimate to the heap.
//   node --expose-gc --import tsx bench/series-cache-heap.ts [--json]
import { SeriesMapper } from '../src/mqwriter/remote-write.js'
import { decodeWriteRequest } from '../src/remotewrite/decode.js'
import { fleet } from '../src/remotewrite/fleet.js'
import { SeriesEncoder } from '../src/remotewrite/proto.js'
import { SeriesCache, seriesId } from '../src/telemetry/series.js'

const gc = globalThis.gc
if (!gc) throw new Error('run with node --expose-gc')
const labels = fleet(500)
const n = labels.length

/** Heap bytes a series that `fill` leaves reachable (`keep` holds what it made), and the cache's own count. */
function measure(fill: () => { bytes: number; keep: unknown }): { estimated: number; heap: number } {
  gc!()
  const before = process.memoryUsage().heapUsed
  const r = fill()
  gc!()
  const heap = process.memoryUsage().heapUsed - before
  if (r.keep === undefined) throw new Error('unreachable')
  return { estimated: Math.round(r.bytes / n), heap: Math.round(heap / n) }
}

const mapper = measure(() => {
  const encoder = new SeriesEncoder(labels)
  const m = new SeriesMapper('DCGM_', 1 << 30)
  for (let i = 0; i < n; i += 2000) m.registered(m.map(decodeWriteRequest(encoder.body(i, 2000, () => ({ value: 1, timestamp: 5 })), 64 << 20)).register, 10)
  return { bytes: m.bytes, keep: m }
})
const collector = measure(() => {
  const c = new SeriesCache(1 << 30)
  for (let i = 0; i < n; i += 1000) {
    // The collector's key: JSON.stringify of a row's parsed labels.
    const keys = labels.slice(i, i + 1000).map((ls) => JSON.stringify(Object.fromEntries(ls.map((l) => [l.name, l.value]))))
    c.committed(keys.map((k) => [k, seriesId(k)] as [string, string]), 10)
  }
  return { bytes: c.heldBytes, keep: c }
})
if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ series: n, mapper, collector })}\n`)
else {
  process.stdout.write(`${n} series. mqwriter's remote_write templates: estimated ${mapper.estimated} B a series, heap ${mapper.heap} B\n`)
  process.stdout.write(`the collector's label sets: estimated ${collector.estimated} B a series, heap ${collector.heap} B\n`)
}
