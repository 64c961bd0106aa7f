// web: the dashboard in Chromium on a large telemetry table — time to the first drawn chart of a GPU page
// showing 24 hours (the bucketed API at the page's step, all 10 metrics in one request), the API request
// behind it, and the bytes the page loads. On the api suite's fleet table (50M rows for 247 GPUs × 10
// metrics every 10 s, kept between runs): the page shows the last seeded day of one GPU, as a custom
// range. Each run is a cold browser context (no cache).
import { existsSync } from 'node:fs'
import puppeteer from 'puppeteer-core'
import { createPool } from '../../src/db/index.js'
import { ensureFleet } from './api.js'
import type { Context, Row } from '../context.js'
import { port, startService } from '../proc.js'
import { figure, fmt, fmtFigure } from '../stats.js'

// The callbacks below run in the page; this Node program has no DOM lib (it would retype fetch for all).
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any
declare const performance: any
/* eslint-enable @typescript-eslint/no-explicit-any */

const DAY_MS = 86_400_000

function chromium(): string {
  const found = [process.env.TPIPE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => p && existsSync(p))
  if (!found) throw new Error('no Chromium: apt-get install chromium (or set TPIPE_CHROMIUM)')
  return found
}

export async function webSuite(ctx: Context): Promise<Row[]> {
  // The api suite's fleet (50M rows by default, kept between runs): the page charts its last day.
  const fleet = await ensureFleet(ctx)
  const url = fleet.url
  const rows = fleet.rawRows
  const gpu = fleet.gpuUuids[0]!
  const START = new Date(fleet.end.getTime() - DAY_MS)
  const pool = createPool(url, { max: 1 })
  try {
    const perGpu = Number((await pool.query('SELECT count(*) AS n FROM telemetry WHERE gpu_uuid = $1 AND ts >= $2', [gpu, START])).rows[0].n)
    ctx.log(`  web: ${fmt(rows)} rows, ${fmt(perGpu)} of them in the charted GPU's 24 hours`)
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
