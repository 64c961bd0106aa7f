// api: p50/p99 of GET /api/v1/gpus and of a one-hour window for one GPU (limit 1000) on a
// 10-million-row telemetry table for 247 GPUs, from a load process with a few keep-alive connections
// (latency at moderate load, not saturation). The seeded database is kept between runs (seeding 10M
// rows takes minutes); it is re-seeded when its row count differs.
import pg from 'pg'
import { createPool, migrate } from '../../src/db/index.js'
import { seedTelemetry } from '../../test/support/seed.js'
import type { Context, Row } from '../context.js'
import { port, runJsonChild, startService } from '../proc.js'
import type { LoadResult } from './ceilings.js'
import { fmt, figure } from '../stats.js'

export const API_ROWS_FULL = Number(process.env.TPIPE_BENCH_API_ROWS ?? 10_000_000)
const GPUS = 247
const STEP_MS = 10_000
const START = new Date('2026-01-01T00:00:00Z')

async function apiDatabase(ctx: Context, name: string): Promise<string> {
  const base = new URL(ctx.databaseUrl)
  const admin = new pg.Client({ connectionString: ctx.databaseUrl })
  await admin.connect()
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  base.pathname = `/${name}`
  return base.toString()
}

export async function apiSuite(ctx: Context): Promise<Row[]> {
  const API_ROWS = ctx.opts.smoke ? 20_000 : API_ROWS_FULL
  const url = await apiDatabase(ctx, ctx.opts.smoke ? 'tpipe_bench_api_smoke' : 'tpipe_bench_api')
  await migrate(url, 'up')
  const pool = createPool(url, { max: 4 })
  let gpuUuids: string[]
  try {
    const have = Number((await pool.query('SELECT count(*) AS n FROM telemetry')).rows[0].n)
    if (have !== API_ROWS) {
      ctx.log(`  seeding ${fmt(API_ROWS)} telemetry rows for ${GPUS} GPUs (kept for later runs)…`)
      const t0 = Date.now()
      await pool.query('TRUNCATE telemetry, gpus')
      await seedTelemetry(pool, { rows: API_ROWS, gpus: GPUS, start: START, stepMs: STEP_MS })
      await pool.query('VACUUM ANALYZE telemetry')
      await pool.query('VACUUM ANALYZE gpus')
      ctx.log(`  seeded in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
    }
    gpuUuids = (await pool.query<{ gpu_uuid: string }>('SELECT gpu_uuid FROM gpus ORDER BY gpu_uuid')).rows.map((r) => r.gpu_uuid)
  } finally {
    await pool.end()
  }
  const scrapes = Math.floor(API_ROWS / (GPUS * 10))
  const spanMs = scrapes * STEP_MS
  // One-hour windows at spread-out offsets, for every GPU in turn.
  const windows = Array.from({ length: 512 }, (_, i) => {
    const gpu = gpuUuids[i % gpuUuids.length]!
    const from = START.getTime() + ((i * 7919 * 60_000) % Math.max(1, spanMs - 3_600_000))
    const q = new URLSearchParams({ start_time: new Date(from).toISOString(), end_time: new Date(from + 3_600_000).toISOString(), limit: '1000' })
    return `/api/v1/gpus/${encodeURIComponent(gpu)}/telemetry?${q}`
  })
  const svc = await startService('apigw', await port(), { DATABASE_URL: url })
  const rows: Row[] = []
  try {
    for (const [label, paths] of [
      ['GET /api/v1/gpus (247 GPUs)', ['/api/v1/gpus']],
      ['GET one GPU, one-hour window, limit 1000', windows],
    ] as const) {
      const runs: LoadResult[] = []
      for (let i = 0; i < ctx.opts.runs; i++) {
        runs.push(await runJsonChild<LoadResult>('load.ts', { url: svc.url, connections: 4, durationS: ctx.opts.durationS, mode: 'get', paths }))
        const r = runs.at(-1)!
        ctx.log(`  api ${label} run ${i + 1}/${ctx.opts.runs}: ${fmt(r.requestsPerSecond)} req/s, p50 ${r.latencyP50} ms, p99 ${r.latencyP99} ms, non-2xx ${r.non2xx}`)
        if (r.non2xx > 0) throw new Error(`${label}: ${r.non2xx} non-2xx answers`)
      }
      const p50 = figure(runs.map((r) => r.latencyP50))
      const p99 = figure(runs.map((r) => r.latencyP99))
      const rps = figure(runs.map((r) => r.requestsPerSecond))
      ctx.figures.set(`api.${label}.p99`, p99)
      rows.push({
        figure: `${label} on ${fmt(API_ROWS)} rows, p50 / p99 ms (4 conns)`,
        value: `${fmt(p50.median)} / ${fmt(p99.median)} (p99 ${fmt(p99.min)}–${fmt(p99.max)}); ${fmt(rps.median)} req/s`,
        target: 'p99 < 20 ms',
      })
    }
  } finally {
    await svc.stop()
  }
  return rows
}
