// The fleet listing's statement (GET /api/v1/gpus?metrics=…) two ways, timed in one session, interleaved:
// latest values read per metric — a probe per GPU, or for up to METRIC_PROBES_MAX metrics without a limit a
// join — or by one string_agg per GPU (sql.ts fleetLatestJson and its `probesMax` switch), for 1 to 50 metrics, and `top 10` (sorted, limit 10), on the api suite's
// kept fleet (database tpipe_bench_fleet: 247 GPUs × 10 metrics; run `npm run bench -- api` once to make
// it). Checks both give the same text.
// Prints one JSON line per metric count: milliseconds a statement per round, each way.
//   node --import tsx bench/fleet-statement.ts [rounds]
import { fleetLatestJson } from '../src/apigw/sql.js'
import { keptFleetClient } from './suites/api.js'

const PER_ROUND = 100

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 4)
  const fleet = await keptFleetClient()
  const c = fleet.client
  try {
    const known = (await c.query<{ m: string }>('SELECT DISTINCT metric_name AS m FROM telemetry_latest ORDER BY 1')).rows.map((r) => r.m)
    if (known.length < 2) throw new Error('tpipe_bench_fleet has no latest values: run `npm run bench -- api` first')
    const metrics = (n: number) => Array.from({ length: n }, (_, i) => known[i] ?? `ABSENT_METRIC_${i}`)
    const shapes = [1, 2, 4, 8, 10, 50].map((n) => ({ n, limit: undefined as number | undefined })).concat([1, 8].map((n) => ({ n, limit: 10 })))
    for (const { n, limit } of shapes) {
      const asked = metrics(n)
      // The sort metric is the last asked one in code-point order (the last join), as `tpipe gpus top` sorts by the one it asks.
      const p = { sort: asked[n - 1], order: 'desc' as const, limit }
      const ways = { probes: fleetLatestJson(p, asked, Infinity), perGpu: fleetLatestJson(p, asked, 0) }
      const texts = await Promise.all(Object.values(ways).map(async (q) => (await c.query(q)).rows[0].gpus as string))
      if (texts[0] !== texts[1]) throw new Error(`${n} metrics: the two statements answer differently`)
      const ms: Record<string, number[]> = { probes: [], perGpu: [] }
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? (['probes', 'perGpu'] as const) : (['perGpu', 'probes'] as const)
        for (const way of order) {
          for (let k = 0; k < 10; k++) await c.query(ways[way])
          const t0 = performance.now()
          for (let k = 0; k < PER_ROUND; k++) await c.query(ways[way])
          ms[way]!.push(Math.round(((performance.now() - t0) / PER_ROUND) * 100) / 100)
        }
      }
      process.stdout.write(JSON.stringify({ metrics: n, limit: limit ?? null, existing: Math.min(n, known.length), gpus: (texts[0]!.match(/"id":/g) ?? []).length, bytes: texts[0]!.length, ms }) + '\n')
    }
  } finally {
    await fleet.release()
  }
}

void main()
