// web: the dashboard in Chromium on a large telemetry table — time to the first drawn chart of a GPU page
// showing 24 hours (the bucketed API at the page's step, all 10 metrics in one request), the API request
// behind it, and the bytes the page loads. Seeded with generate_series (test/support/seed.ts): 10 million
// rows by default (TPIPE_BENCH_WEB_ROWS) for 247 GPUs × 10 metrics spread evenly over one day, kept
// between runs in database tpipe_bench_web. Each run is a cold browser context (no cache).
import { existsSync } from 'node:fs'
import pg from 'pg'
import puppeteer from 'puppeteer-core'
import { seedTelemetry } from '../../test/support/seed.js'
import { createPool, migrate } from '../../src/db/index.js'
import { deriveOnce } from '../../src/telemetry/derive.js'
import type { Context, Row } from '../context.js'
import { port, startService } from '../proc.js'
import { figure, fmt, fmtFigure } from '../stats.js'

// The callbacks below run in the page; this Node program has no DOM lib (it would retype fetch for all).
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any
declare const performance: any
/* eslint-enable @typescript-eslint/no-explicit-any */

const GPUS = 247
const DAY_MS = 86_400_000
/** A fixed day, so the seeded database stays valid between runs (the page is opened on it as a custom range). */
const START = new Date('2026-01-01T00:00:00Z')

function chromium(): string {
  const found = [process.env.TPIPE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => p && existsSync(p))
  if (!found) throw new Error('no Chromium: apt-get install chromium (or set TPIPE_CHROMIUM)')
  return found
}

async function database(ctx: Context, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: ctx.databaseUrl })
  await admin.connect()
  try {
    if ((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 0) await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const u = new URL(ctx.databaseUrl)
  u.pathname = `/${name}`
  return u.toString()
}

export async function webSuite(ctx: Context): Promise<Row[]> {
  const rows = ctx.opts.smoke ? 24_700 : Number(process.env.TPIPE_BENCH_WEB_ROWS ?? 10_000_000)
  const url = await database(ctx, ctx.opts.smoke ? 'tpipe_bench_web_smoke' : 'tpipe_bench_web')
  await migrate(url, 'up')
  const pool = createPool(url, { max: 2 })
  let gpu: string
  try {
    const have = Number((await pool.query('SELECT count(*) AS n FROM telemetry')).rows[0].n)
    if (have !== rows) {
      ctx.log(`  web: seeding ${fmt(rows)} telemetry rows for ${GPUS} GPUs over one day (kept for later runs)…`)
      const t0 = Date.now()
      await pool.query('TRUNCATE telemetry, gpus')
      // Every GPU scraped every stepMs: rows / (GPUS × 10) scrapes spread over the day.
      await seedTelemetry(pool, { rows, gpus: GPUS, start: START, stepMs: Math.floor(DAY_MS / Math.ceil(rows / (GPUS * 10))) })
      ctx.log(`  web: seeded in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
    }
    // The page asks for buckets of a minute or more, which the API answers from the per-minute rollups:
    // derive them as the collector's job would (a database seeded before the rollups existed has none).
    if (Number((await pool.query('SELECT count(*) AS n FROM (SELECT 1 FROM telemetry_1m LIMIT 1) x')).rows[0].n) === 0) {
      const t0 = Date.now()
      const d = await deriveOnce(pool, { quietSeconds: 0 })
      ctx.log(`  web: derived ${fmt(d.rollups)} rollup minutes in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
    }
    gpu = (await pool.query<{ gpu_uuid: string }>('SELECT gpu_uuid FROM gpus ORDER BY gpu_uuid LIMIT 1')).rows[0]!.gpu_uuid
    const perGpu = Number((await pool.query('SELECT count(*) AS n FROM telemetry WHERE gpu_uuid = $1', [gpu])).rows[0].n)
    ctx.log(`  web: ${fmt(rows)} rows, ${fmt(perGpu)} of them for the GPU charted`)
  } finally {
    await pool.end()
  }

  const svc = await startService('apigw', await port(), { DATABASE_URL: url })
  const browser = await puppeteer.launch({ executablePath: chromium(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
  const firstChart: number[] = []
  const apiMs: number[] = []
  let weight = { assets: 0, api: 0, points: 0 }
  try {
    const route = `#/gpu/${encodeURIComponent(gpu)}?start=${START.toISOString()}&end=${new Date(START.getTime() + DAY_MS).toISOString()}`
    for (let i = 0; i < ctx.opts.runs; i++) {
      const bctx = await browser.createBrowserContext()
      const page = await bctx.newPage()
      await page.setViewport({ width: 1366, height: 768 })
      await page.goto(`${svc.url}/${route}`, { waitUntil: 'domcontentloaded' })
      await page.waitForFunction(() => performance.getEntriesByName('tpipe:first-chart').length > 0, { timeout: 120_000 })
      const m = await page.evaluate(() => {
        type Timing = { name: string; duration: number; transferSize: number }
        const res = performance.getEntriesByType('resource') as Timing[]
        const tele = res.find((r) => r.name.includes('/telemetry'))
        const nav = performance.getEntriesByType('navigation')[0] as Timing
        return {
          first: performance.getEntriesByName('tpipe:first-chart')[0]!.startTime,
          api: tele ? tele.duration : -1,
          assets: nav.transferSize + res.filter((r) => r.name.includes('/assets/')).reduce((n, r) => n + r.transferSize, 0),
          apiBytes: res.filter((r) => r.name.includes('/api/')).reduce((n, r) => n + r.transferSize, 0),
          points: (Array.from(document.querySelectorAll('.chart')) as { dataset: { points?: string } }[]).reduce((n, c) => n + Number(c.dataset.points ?? 0), 0),
        }
      })
      firstChart.push(m.first)
      apiMs.push(m.api)
      weight = { assets: m.assets, api: m.apiBytes, points: m.points }
      ctx.log(`  web run ${i + 1}/${ctx.opts.runs}: first chart ${fmt(m.first)} ms, telemetry request ${fmt(m.api)} ms, ${fmt(m.points)} points drawn`)
      await bctx.close()
    }
  } finally {
    await browser.close()
    await svc.stop()
  }
  const f = figure(firstChart)
  const a = figure(apiMs)
  return [
    { figure: `GPU page, 24 h of 10 metrics on ${fmt(rows)} rows: time to first chart (ms, cold)`, value: fmtFigure(f), target: '' },
    { figure: '  of which the bucketed telemetry request (ms)', value: fmtFigure(a) },
    { figure: '  page weight: HTML + JS + CSS over the wire (gzip) / API JSON (bytes)', value: `${fmt(weight.assets)} / ${fmt(weight.api)}; ${fmt(weight.points)} points drawn` },
  ]
}
