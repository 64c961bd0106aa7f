// api: latency of the Query API on a fleet-sized telemetry table, from a load process with a few
// keep-alive connections (latency at moderate load, not saturation), and the cost of retention.
// Seeded once and kept between runs (database tpipe_bench_fleet; bench/fleet-seed.ts): 50 million raw
// rows by default (TPIPE_BENCH_API_ROWS) for 247 GPUs × 10 metrics every 10 s — about 2.3 days, so
// three daily partitions — plus 30 days of per-minute rollups of GPU utilisation before them.
//   - GET /api/v1/gpus (247 GPUs)                                    target p99 < 20 ms
//   - raw page: one GPU, one-hour window, limit 1000                 target p99 < 20 ms
//   - 24 h, one GPU, one metric, step=60s                           target p99 < 50 ms
//   - 30 days, one GPU, one metric, step=1h (rollups)                target p99 < 100 ms
//     (answered from the hourly rollups telemetry_1h: 720 rows; the kept database gets them from the
//     migration ensureFleet runs, without a new seed)
//   - fleet latest of 2 metrics for every GPU, sorted                target p99 < 20 ms
//   - dropping a day's partition, empty and with rows                target < 1 s whatever its rows
import pg from 'pg'
import { loadConfig } from '../../src/config/index.js'
import { createPool, migrate, useDatabase } from '../../src/db/index.js'
import type { Pool } from '../../src/db/pool.js'
import type { Context, Row } from '../context.js'
import { fleetSpan, seedFleet } from '../fleet-seed.js'
import { port, runJsonChild, startService } from '../proc.js'
import type { LoadResult } from './ceilings.js'
import { fmt, figure, fmtFigure } from '../stats.js'

export const API_ROWS_FULL = Number(process.env.TPIPE_BENCH_API_ROWS ?? 50_000_000)
const GPUS = 247
const STEP_MS = 10_000
const DAY = 86_400_000
const HOUR = 3_600_000
/** End of the seeded raw rows: fixed, so the kept database stays the same between runs. */
const END = new Date('2026-01-20T00:00:00Z')
const ROLLUP_DAYS = 30
const ROLLUP_METRIC = 'DCGM_FI_DEV_GPU_UTIL'

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

/** Times tpipe_drop_partition on a day partition far before the seeded range holding `rows` rows. */
async function dropPartitionMs(pool: Pool, rows: number): Promise<number> {
  const day = new Date('2025-01-01T00:00:00Z')
  const name = 'telemetry_p20250101'
  await pool.query('SELECT tpipe_ensure_partition($1, $2, $3, $4)', ['telemetry', 'ts', day.toISOString(), new Date(day.getTime() + DAY).toISOString()])
  if (rows > 0) {
    await pool.query({
      text: `INSERT INTO ${name} (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts)
             SELECT gen_random_uuid(), 'GPU-drop-' || (i % 247), 0, 'nvidia0', 'drop-host', 'NVIDIA H100 80GB HBM3', 'DCGM_FI_DEV_GPU_UTIL', i,
                    $2::timestamptz + make_interval(secs => (i % 86000))
             FROM generate_series(1, $1::int) AS i`,
      values: [rows, day.toISOString()],
    })
  }
  const t0 = performance.now()
  await pool.query('SELECT tpipe_drop_partition($1, $2)', ['telemetry', name])
  return performance.now() - t0
}

export interface Fleet {
  url: string
  /** First seeded raw sample (ms). */
  start: number
  end: Date
  rawRows: number
  gpuUuids: string[]
}

/**
 * The seeded fleet database (created, migrated and seeded on first use, kept between runs): the api
 * suite's table, also what the web suite charts.
 */
export async function ensureFleet(ctx: Context): Promise<Fleet> {
  const rowsWanted = ctx.opts.smoke ? 50_000 : API_ROWS_FULL
  const url = await apiDatabase(ctx, ctx.opts.smoke ? 'tpipe_bench_fleet_smoke' : 'tpipe_bench_fleet')
  await migrate(url, 'up')
  const pool = createPool(url, { max: 2 })
  const seed = { gpus: GPUS, rows: rowsWanted, end: END, stepMs: STEP_MS, rollupDays: ctx.opts.smoke ? 0 : ROLLUP_DAYS, rollupMetrics: [ROLLUP_METRIC], log: ctx.log }
  const { start, scrapes } = fleetSpan(seed)
  try {
    const t0 = Date.now()
    await seedFleet(pool, seed)
    const rawRows = Number((await pool.query('SELECT count(*) AS n FROM telemetry')).rows[0].n)
    ctx.log(`  fleet: ${fmt(rawRows)} raw rows (${fmt(scrapes)} scrapes from ${new Date(start).toISOString()}), ready in ${fmt((Date.now() - t0) / 1000)} s`)
    const gpuUuids = (await pool.query<{ gpu_uuid: string }>('SELECT gpu_uuid FROM gpus ORDER BY gpu_uuid')).rows.map((r) => r.gpu_uuid)
    return { url, start, end: END, rawRows, gpuUuids }
  } finally {
    await pool.end()
  }
}

/** A client of the kept fleet database (tpipe_bench_fleet) for the bench scripts; `release` closes it and the database handle. */
export async function keptFleetClient(): Promise<{ client: pg.Client; url: string; release: () => Promise<void> }> {
  const db = await useDatabase(loadConfig({}, process.env))
  const u = new URL(db.url)
  u.pathname = '/tpipe_bench_fleet'
  const client = new pg.Client({ connectionString: u.toString() })
  try {
    await client.connect()
  } catch (e) {
    await db.release()
    throw e
  }
  return {
    client,
    url: u.toString(),
    release: async () => {
      await client.end().catch(() => {})
      await db.release()
    },
  }
}

/** First raw sample of the kept (full-size) fleet: what ensureFleet returns as `start`, without a Context. */
export function keptFleetStart(): number {
  return fleetSpan({ gpus: GPUS, rows: API_ROWS_FULL, end: END, stepMs: STEP_MS, rollupDays: ROLLUP_DAYS, rollupMetrics: [ROLLUP_METRIC] }).start
}

/** The suite's timed queries: request paths rotating over GPUs and offsets of the seeded fleet (also bench/apigw-ab.ts). */
export function apiQueries(gpuUuids: readonly string[], start: number): { label: string; target: string; paths: string[]; source?: string }[] {
  const spanMs = END.getTime() - start
  const at = (i: number, width: number) => start + ((i * 7919 * 60_000) % Math.max(1, spanMs - width))
  const gpuPath = (i: number) => `/api/v1/gpus/${encodeURIComponent(gpuUuids[i % gpuUuids.length]!)}/telemetry`
  const iso = (t: number) => new Date(t).toISOString()
  const rotate = (make: (i: number) => string) => Array.from({ length: 512 }, (_, i) => make(i))
  return [
    { label: 'GET /api/v1/gpus (247 GPUs)', target: 'p99 < 20 ms', paths: ['/api/v1/gpus'] },
    {
      label: 'raw page: one GPU, one-hour window, limit 1000',
      target: 'p99 < 20 ms',
      paths: rotate((i) => `${gpuPath(i)}?${new URLSearchParams({ start_time: iso(at(i, HOUR)), end_time: iso(at(i, HOUR) + HOUR), limit: '1000' })}`),
    },
    {
      label: '24 h, one GPU, one metric, step=60s',
      target: 'p99 < 50 ms',
      source: 'telemetry_1m',
      paths: rotate((i) => `${gpuPath(i)}?${new URLSearchParams({ metric: 'DCGM_FI_DEV_GPU_TEMP', start: iso(at(i, DAY)), end: iso(at(i, DAY) + DAY), step: '60s' })}`),
    },
    {
      label: '30 days, one GPU, one metric, step=1h (rollups)',
      target: 'p99 < 100 ms',
      source: 'telemetry_1h',
      paths: rotate((i) => `${gpuPath(i)}?${new URLSearchParams({ metric: ROLLUP_METRIC, start: iso(END.getTime() - ROLLUP_DAYS * DAY - (i % 24) * HOUR), end: iso(END.getTime() - (i % 24) * HOUR), step: '1h' })}`),
    },
    {
      label: 'fleet latest, 2 metrics, every GPU, sorted',
      target: 'p99 < 20 ms',
      paths: [
        ['DCGM_FI_DEV_GPU_UTIL', 'desc'],
        ['DCGM_FI_DEV_GPU_TEMP', 'desc'],
        ['DCGM_FI_DEV_GPU_UTIL', 'asc'],
      ].map(([sort, order]) => `/api/v1/gpus?${new URLSearchParams({ metrics: 'DCGM_FI_DEV_GPU_UTIL,DCGM_FI_DEV_GPU_TEMP', sort: sort!, order: order! })}`),
    },
  ]
}

export async function apiSuite(ctx: Context): Promise<Row[]> {
  const { url, start, rawRows, gpuUuids } = await ensureFleet(ctx)
  const pool = createPool(url, { max: 2 })
  const queries = apiQueries(gpuUuids, start)
  const rows: Row[] = []
  const svc = await startService('apigw', await port(), { DATABASE_URL: url })
  try {
    for (const q of queries) {
      // Every query answers 200 with data before it is timed (an empty answer would be fast and wrong).
      const probe = await fetch(`${svc.url}${q.paths[0]}`)
      const body = await probe.text()
      if (probe.status !== 200 || !/"(points|gpus|telemetry)":\s*\[\s*[[{]/.test(body)) throw new Error(`${q.label}: ${probe.status} without data: ${body.slice(0, 300)}`)
      // And from the table it is meant to read (the hourly rollups for the 30-day query).
      if (q.source && (JSON.parse(body) as { source?: string }).source !== q.source) throw new Error(`${q.label}: answered from ${body.slice(0, 200)}, not ${q.source}`)
      // Warm-up, not measured: the apigw's pool opens its connections (SCRAM authentication) and prepares this
      // query's statement on each the first time 4 requests are in flight; the runs measure the steady state.
      await runJsonChild<LoadResult>('load.ts', { url: svc.url, connections: 4, durationS: 1, mode: 'get', paths: q.paths })
      const runs: LoadResult[] = []
      for (let i = 0; i < ctx.opts.runs; i++) {
        const r = await runJsonChild<LoadResult>('load.ts', { url: svc.url, connections: 4, durationS: ctx.opts.durationS, mode: 'get', paths: q.paths })
        runs.push(r)
        ctx.log(`  api ${q.label} run ${i + 1}/${ctx.opts.runs}: ${fmt(r.requestsPerSecond)} req/s, p50 ${r.latencyP50} ms, p99 ${r.latencyP99} ms, non-2xx ${r.non2xx}`)
        if (r.non2xx > 0) throw new Error(`${q.label}: ${r.non2xx} non-2xx answers`)
      }
      const p50 = figure(runs.map((r) => r.latencyP50))
      const p99 = figure(runs.map((r) => r.latencyP99))
      const rps = figure(runs.map((r) => r.requestsPerSecond))
      ctx.figures.set(`api.${q.label}.p99`, p99)
      rows.push({
        figure: `${q.label} on ${fmt(rawRows)} rows, p50 / p99 ms (4 conns)`,
        value: `${fmt(p50.median)} / ${fmt(p99.median)} (p99 ${fmt(p99.min)}–${fmt(p99.max)}); ${fmt(rps.median)} req/s`,
        target: q.target,
      })
    }
  } finally {
    await svc.stop()
  }
  try {
    const filled = ctx.opts.smoke ? 10_000 : 2_000_000
    const empty: number[] = []
    const full: number[] = []
    for (let i = 0; i < ctx.opts.runs; i++) {
      empty.push(await dropPartitionMs(pool, 0))
      full.push(await dropPartitionMs(pool, filled))
      ctx.log(`  api drop partition run ${i + 1}/${ctx.opts.runs}: empty ${fmt(empty.at(-1)!, 1)} ms, ${fmt(filled)} rows ${fmt(full.at(-1)!, 1)} ms`)
    }
    rows.push({ figure: "drop a day's partition: empty / with rows (ms)", value: `${fmtFigure(figure(empty), 1)} / ${fmtFigure(figure(full), 1)} (${fmt(filled)} rows)`, target: '< 1 s whatever its rows' })
  } finally {
    await pool.end()
  }
  return rows
}
