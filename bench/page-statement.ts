// The raw page's statement (GET /api/v1/gpus/{id}/telemetry, sql.ts telemetryPageJson) in its two forms,
// timed in one session, interleaved: row by row (a to_char per row) and by time (a to_char per distinct
// time), on two shapes of rows — the api suite's kept fleet (database tpipe_bench_fleet, run `npm run
// bench -- api` once to make it), where a GPU's 10 metrics share each 10 s time as in a scrape or a
// remote_write sample set, and a temporary copy of 8 of its GPUs' last day whose rows each get their own
// time (+1..10 ms), as the CSV streamer stamps them. 64 pages of 1,000 rows (ascending, descending, after a
// cursor), checked equal both ways. Prints one JSON line per shape: ms a statement per round, each way.
//   node --import tsx bench/page-statement.ts [rounds]
import { telemetryPageJson, type Query } from '../src/apigw/sql.js'
import { keptFleetClient } from './suites/api.js'

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 4)
  const fleet = await keptFleetClient()
  const c = fleet.client
  try {
    const end = (await c.query<{ m: Date | null }>('SELECT max(ts) AS m FROM telemetry')).rows[0]?.m
    if (!end) throw new Error('tpipe_bench_fleet has no telemetry: run `npm run bench -- api` first')
    await c.query(`CREATE TEMP TABLE own_times AS
                   SELECT gpu_uuid, ts + (row_number() OVER (PARTITION BY gpu_uuid, ts ORDER BY msg_uuid)) * interval '1 ms' AS ts, msg_uuid, metric_name, value
                   FROM telemetry WHERE gpu_uuid IN (SELECT gpu_uuid FROM gpus ORDER BY gpu_uuid LIMIT 8) AND ts > $1::timestamptz - interval '1 day'`, [end])
    await c.query('CREATE INDEX ON own_times (gpu_uuid, ts, msg_uuid) INCLUDE (metric_name, value)')
    await c.query('ANALYZE own_times')
    for (const shape of ['shared times', 'own times'] as const) {
      const table = shape === 'own times' ? 'own_times' : 'telemetry'
      const gpus = (await c.query<{ g: string }>(`SELECT DISTINCT gpu_uuid AS g FROM ${table === 'telemetry' ? 'gpus' : table} ORDER BY 1 LIMIT 247`)).rows.map((r) => r.g)
      const on = (q: Query, tag: string): Query => ({ name: `${q.name}_${tag}${table}`, text: q.text.replace('FROM telemetry AS t', `FROM ${table} AS t`), values: q.values })
      const pages = Array.from({ length: 64 }, (_, i) => {
        const start = new Date(end.getTime() - 3_600_000 * (2 + ((i * 7) % 20)))
        const p = {
          id: gpus[(i * 13) % gpus.length]!,
          start: start.toISOString(),
          end: new Date(start.getTime() + 3_600_000).toISOString(),
          metrics: [],
          limit: 1000,
          desc: i % 8 === 7,
          after: i % 5 === 4 ? { ts: new Date(start.getTime() + 600_000).toISOString(), msgUuid: '00000000-0000-0000-0000-000000000000' } : undefined,
        }
        return { rowByRow: on(telemetryPageJson(p, false), 'r'), byTime: on(telemetryPageJson(p, true), 't') }
      })
      let rows = 0
      let times = 0
      for (const p of pages) {
        const a = (await c.query(p.rowByRow)).rows[0]
        const b = (await c.query(p.byTime)).rows[0]
        if (a.rows !== b.rows || a.n !== b.n) throw new Error(`${shape}: the two forms answer differently`)
        rows += b.n
        times += b.times
      }
      const ms: Record<string, number[]> = { rowByRow: [], byTime: [] }
      for (let r = 0; r < rounds; r++) {
        for (const way of r % 2 === 0 ? (['rowByRow', 'byTime'] as const) : (['byTime', 'rowByRow'] as const)) {
          const t0 = performance.now()
          for (let k = 0; k < 2; k++) for (const p of pages) await c.query(p[way])
          ms[way]!.push(Math.round(((performance.now() - t0) / (2 * pages.length)) * 1000) / 1000)
        }
      }
      process.stdout.write(JSON.stringify({ shape, pages: pages.length, rowsPerTime: Math.round((rows / times) * 10) / 10, ms }) + '\n')
    }
  } finally {
    await fleet.release()
  }
}

void main()
