// The dashboard in a real browser (Debian's chromium through puppeteer-core) against a real apigw on a
// real PostgreSQL, with telemetry written through the collector's persist statement from the real DCGM
// CSV (247 GPUs). Checks what a user sees: the GPUs the pipeline stored, the API's numbers, charts with
// points, range switches, live refresh, the "no data yet" and "API unreachable" states, no console errors.
// Writes screenshots (laptop 1366×768, phone 390×844) and the page-weight / time-to-first-chart figures
// into screenshots/ (git-ignored; TPIPE_SCREENSHOTS to put them elsewhere).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import puppeteer, { type Browser, type Page } from 'puppeteer-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApigw } from '../apigw/app.js'
import { createPool, type Pool } from '../db/pool.js'
import type { TelemetryPayload } from '../telemetry/payload.js'
import { csvScrape, persist, scrapeAt } from '../../test/support/dcgm-fixture.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { startProxy, viaProxy, type TcpProxy } from '../../test/support/proxy.js'
import { fleetCounts, formatValue, KEY_METRICS } from './metrics.js'

// Callbacks of page.evaluate / waitForFunction run in the page; this Node program has no DOM lib (it would
// retype fetch everywhere), so the page's globals are declared loosely here.
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any
declare const performance: any
declare const location: any
type HTMLElement = any
type PerformanceNavigationTiming = any
type PerformanceResourceTiming = any
/* eslint-enable @typescript-eslint/no-explicit-any */

export const CHROMIUM = process.env.TPIPE_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p)) ?? 'chromium'
const SHOTS = process.env.TPIPE_SCREENSHOTS ?? join(process.cwd(), 'screenshots')
const LAPTOP = { width: 1366, height: 768 }
const PHONE = { width: 390, height: 844, isMobile: true, hasTouch: true }

interface ApiGpu {
  id: string
  hostname: string
  gpu_id: number
  latest?: Record<string, { value: number; ts: string }>
}

describe('web dashboard in Chromium', () => {
  let db: TestDatabase
  let proxy: TcpProxy
  let apiPool: Pool
  let app: FastifyInstance
  let base: string
  let browser: Browser
  let csv: TelemetryPayload[]
  const consoleErrors: string[] = []
  let expectErrors = false
  const figures: Record<string, unknown> = {}

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${base}${path}`)
    expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200)
    return (await res.json()) as T
  }

  async function open(route: string, viewport: { width: number; height: number } = LAPTOP): Promise<Page> {
    const page = await browser.newPage()
    await page.setViewport(viewport)
    page.on('console', (m) => {
      if (m.type() === 'error' && !expectErrors) consoleErrors.push(`${route}: ${m.text()}`)
    })
    page.on('pageerror', (e) => consoleErrors.push(`${route}: ${(e as Error).message}`))
    page.on('requestfailed', (r) => {
      if (!expectErrors && !r.failure()?.errorText.includes('ERR_ABORTED')) consoleErrors.push(`${route}: request failed ${r.url()} ${r.failure()?.errorText}`)
    })
    await page.goto(`${base}/${route}`, { waitUntil: 'domcontentloaded' })
    return page
  }

  async function setRefresh(page: Page, seconds: number): Promise<void> {
    await page.select('#refresh', String(seconds))
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true })
    db = await createTestDatabase({ prefix: 'tpipe_web' })
    const u = new URL(db.url)
    proxy = await startProxy(u.hostname, Number(u.port))
    // apigw reaches PostgreSQL through a proxy the test can cut: "the database went away" for real.
    apiPool = createPool(viaProxy(db.url, proxy.port), { max: 4, connectionTimeoutMs: 1500, statementTimeoutMs: 10_000 })
    ;({ app } = await buildApigw({ logLevel: 'silent', bodyLimitBytes: 1048576, metricsEnabled: false }, { pool: apiPool, logger: pino({ level: 'silent' }) }))
    await app.listen({ host: '127.0.0.1', port: 0 })
    const addr = app.server.address()
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
    csv = csvScrape()
  })

  afterAll(async () => {
    await browser?.close()
    await app?.close()
    await apiPool?.end().catch(() => {})
    await proxy?.close()
    await db?.drop()
    writeFileSync(join(SHOTS, 'figures.json'), `${JSON.stringify(figures, null, 2)}\n`)
  })

  it('serves the dashboard at / (no-cache) and its hashed assets as immutable, gzip-compressed', async () => {
    const res = await fetch(`${base}/`, { headers: { 'accept-encoding': 'gzip' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-cache')
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
    const html = await res.text()
    const assets = [...html.matchAll(/(?:src|href)="(assets\/[^"]+)"/g)].map((m) => m[1]!)
    expect(assets.some((a) => /\.js$/.test(a)) && assets.some((a) => /\.css$/.test(a))).toBe(true)
    for (const a of assets) {
      expect(a).toMatch(/-[A-Z0-9]{8}\.(js|css)$/)
      const r = await fetch(`${base}/${a}`, { headers: { 'accept-encoding': 'gzip' } })
      expect(r.status).toBe(200)
      expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
      expect(r.headers.get('content-encoding')).toBe('gzip')
    }
    const missing = await fetch(`${base}/assets/app-NOTTHERE.js`)
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('TPIPE_ERR_NOT_FOUND')
  })

  it('shows "No data yet" on an empty pipeline, then the GPUs as they arrive, without a reload', async () => {
    const page = await open('#/')
    await page.waitForSelector('#no-data', { timeout: 20_000 })
    expect(await page.$eval('#no-data', (e) => e.textContent)).toMatch(/No data yet/)
    await setRefresh(page, 2)
    // One hour of history, one scrape every 2 minutes, through the collector's persist statement.
    const now = Date.now()
    for (let k = 30; k >= 0; k--) await persist(db.pool, scrapeAt(csv, new Date(now - k * 120_000), 30 - k))
    await page.waitForFunction(() => document.querySelectorAll('table.fleet tbody tr').length > 0, { timeout: 30_000 })
    await page.close()
  })

  it('lists every GPU the pipeline stored with the numbers the API answers, and fleet counts to match', async () => {
    const expectedGpus = new Set(csv.map((p) => p.gpu_uuid)).size
    figures.gpus = expectedGpus
    const ctx = await browser.createBrowserContext()
    const page = await ctx.newPage()
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(`fleet: ${m.text()}`))
    page.on('pageerror', (e) => consoleErrors.push(`fleet: ${(e as Error).message}`))
    await page.setViewport(LAPTOP)
    await page.goto(`${base}/#/`, { waitUntil: 'domcontentloaded' })
    await page.waitForFunction((n) => document.querySelectorAll('table.fleet tbody tr').length === n && document.querySelector('table.fleet polyline'), { timeout: 30_000 }, expectedGpus)
    // Page weight (bytes over the wire, gzip) and time to the first drawn trend lines, cold cache.
    const perf = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming
      const res = performance.getEntriesByType('resource') as PerformanceResourceTiming[]
      const sum = (xs: PerformanceResourceTiming[], k: 'transferSize' | 'decodedBodySize') => xs.reduce((n, r) => n + r[k], 0)
      const statics = res.filter((r) => r.name.includes('/assets/'))
      const apis = res.filter((r) => r.name.includes('/api/'))
      return {
        html_bytes: nav.transferSize,
        assets_transfer_bytes: sum(statics, 'transferSize'),
        assets_decoded_bytes: sum(statics, 'decodedBodySize'),
        api_transfer_bytes: sum(apis, 'transferSize'),
        api_decoded_bytes: sum(apis, 'decodedBodySize'),
        api_requests: apis.length,
        first_chart_ms: Math.round(performance.getEntriesByName('tpipe:fleet-rendered')[0]?.startTime ?? -1),
        dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd),
        api_ms: apis.map((r) => `${new URL(r.name).pathname.split('/').pop()}${new URL(r.name).searchParams.get('metric')?.replace('DCGM_FI_DEV_', ' ') ?? ''} ${Math.round(r.startTime)}+${Math.round(r.duration)}`),
      }
    })
    figures.fleet = perf
    console.log(`[web] fleet page with ${expectedGpus} GPUs: ${JSON.stringify(perf)}`)
    expect(perf.api_requests).toBe(1 + KEY_METRICS.length)
    expect(perf.first_chart_ms).toBeGreaterThan(0)
    // The JSON comes gzip-compressed to the browser (the trends of every GPU are most of the page's bytes).
    expect(perf.api_transfer_bytes).toBeLessThan(perf.api_decoded_bytes / 3)

    const gpus = (await api<{ gpus: ApiGpu[] }>(`/api/v1/gpus?metrics=${KEY_METRICS.join(',')}`)).gpus
    expect(gpus).toHaveLength(expectedGpus)
    const shown = await page.$$eval('table.fleet tbody tr', (trs) =>
      trs.map((tr) => ({
        id: (tr as HTMLElement).dataset.gpu!,
        cells: [...tr.querySelectorAll<HTMLElement>('td[data-metric]')].map((td) => ({ metric: td.dataset.metric!, value: td.dataset.value!, text: td.querySelector('.v')!.textContent })),
      })),
    )
    expect(shown.map((r) => r.id).sort()).toEqual(gpus.map((g) => g.id).sort())
    const byId = new Map(gpus.map((g) => [g.id, g]))
    for (const row of shown) {
      const g = byId.get(row.id)!
      for (const c of row.cells) {
        const v = g.latest?.[c.metric]?.value
        expect(c.value, `${row.id} ${c.metric}`).toBe(v === undefined ? '' : String(v))
        expect(c.text, `${row.id} ${c.metric}`).toBe(formatValue(c.metric, v))
      }
    }
    const counts = fleetCounts(gpus.map((g) => ({ id: g.id, hostname: g.hostname, latest: Object.fromEntries(Object.entries(g.latest ?? {}).map(([k, v]) => [k, v.value])) })))
    for (const k of ['gpus', 'hosts', 'idle', 'busy', 'hot'] as const) expect(await page.$eval(`#n-${k}`, (e) => e.textContent), k).toBe(String(counts[k]))
    await page.screenshot({ path: join(SHOTS, 'fleet-laptop.png') })
    // Switching to or from a touch viewport reloads the page (puppeteer's setViewport with isMobile/hasTouch):
    // wait for the table again before the screenshot or any interaction, or both act on "Loading…".
    const allRows = (n: number) => page.waitForFunction((k) => document.querySelectorAll('table.fleet tbody tr').length === k, { timeout: 30_000 }, n)
    await page.setViewport(PHONE)
    await allRows(gpus.length)
    await page.screenshot({ path: join(SHOTS, 'fleet-phone.png') })

    // Filters and sorting act on what is shown.
    await page.setViewport(LAPTOP)
    await allRows(gpus.length)
    const host = gpus[0]!.hostname
    const onHost = gpus.filter((g) => g.hostname === host).length
    await page.select('#f-host', host)
    const hostRows = await page.$$eval('table.fleet tbody tr', (trs) => trs.length)
    expect(hostRows).toBe(onHost)
    await page.select('#f-host', '')
    await page.click('button[data-sort="DCGM_FI_DEV_GPU_TEMP"]')
    const temps = await page.$$eval('td[data-metric="DCGM_FI_DEV_GPU_TEMP"]', (tds) => tds.map((td) => Number((td as HTMLElement).dataset.value)))
    expect(temps).toEqual([...temps].sort((a, b) => b - a))
    expect(page.url()).toMatch(/sort=DCGM_FI_DEV_GPU_TEMP/)
    await ctx.close()
  })

  it('draws a GPU page with a chart per metric, switches ranges, and shows new data arriving', async () => {
    const gpu = csv[0]!
    const page = await open(`#/gpu/${encodeURIComponent(gpu.gpu_uuid)}`)
    const requests: string[] = []
    page.on('request', (r) => r.url().includes('/telemetry') && requests.push(r.url()))
    await page.waitForFunction(() => document.querySelectorAll('.chart canvas').length >= 4, { timeout: 30_000 })
    const points = await page.$$eval('.chart', (cs) => cs.map((c) => ({ metric: (c as HTMLElement).dataset.metric, points: Number((c as HTMLElement).dataset.points) })))
    expect(points.length).toBe(new Set(csv.filter((p) => p.gpu_uuid === gpu.gpu_uuid).map((p) => p.metric_name)).size)
    for (const p of points) expect(p.points, p.metric).toBeGreaterThan(10)
    await page.screenshot({ path: join(SHOTS, 'gpu-laptop.png') })
    const charts = () => page.waitForFunction(() => document.querySelectorAll('.chart canvas').length >= 4, { timeout: 30_000 })
    await page.setViewport(PHONE) // reloads the page (touch viewport): wait for the charts again
    await charts()
    await page.screenshot({ path: join(SHOTS, 'gpu-phone.png') })
    await page.setViewport(LAPTOP)
    await charts()

    for (const range of ['6h', '15m', '24h', '7d', '1h']) {
      requests.length = 0
      await page.click(`button[data-range="${range}"]`)
      await page.waitForFunction((r) => document.querySelector(`button[data-range="${r}"]`)?.getAttribute('aria-pressed') === 'true', {}, range)
      await page.waitForFunction((r) => location.hash.includes(`range=${r}`), {}, range)
      await new Promise((r) => setTimeout(r, 200))
      expect(requests.some((u) => new URL(u).searchParams.get('window') === range), `${range}: ${requests.join(' ')}`).toBe(true)
      const n = await page.$eval('.chart[data-metric="DCGM_FI_DEV_GPU_UTIL"]', (c) => Number((c as HTMLElement).dataset.points))
      expect(n, range).toBeGreaterThan(0)
    }

    // Live: a new scrape with a value the history never had shows up without a reload.
    await setRefresh(page, 2)
    const marker = 123.4
    await persist(db.pool, scrapeAt(csv, new Date(), 99, (p) => (p.gpu_uuid === gpu.gpu_uuid && p.metric_name === 'DCGM_FI_DEV_POWER_USAGE' ? marker : undefined)))
    await page.waitForFunction((v) => document.querySelector('.latest [data-metric="DCGM_FI_DEV_POWER_USAGE"]')?.dataset.value === String(v), { timeout: 20_000 }, marker)
    expect(await page.$eval('.latest [data-metric="DCGM_FI_DEV_POWER_USAGE"] .n', (e) => e.textContent)).toBe(formatValue('DCGM_FI_DEV_POWER_USAGE', marker))
    await page.close()
  })

  it('shows one host with its GPUs side by side', async () => {
    const host = csv[0]!.hostname
    const page = await open(`#/host/${encodeURIComponent(host)}`)
    await page.waitForFunction(() => document.querySelectorAll('.chart canvas').length === 4 && document.querySelectorAll('table.host tbody tr').length > 0, { timeout: 30_000 })
    const rows = await page.$$eval('table.host tbody tr', (trs) => trs.length)
    expect(rows).toBe(new Set(csv.filter((p) => p.hostname === host).map((p) => p.gpu_uuid)).size)
    const series = await page.$$eval('.chart', (cs) => cs.map((c) => c.querySelectorAll('.u-legend .u-series').length - 1))
    for (const n of series) expect(n).toBe(rows)
    await page.screenshot({ path: join(SHOTS, 'host-laptop.png') })
    await page.close()
  })

  it('says "API unreachable" when apigw loses its database, and recovers by itself', async () => {
    const page = await open('#/')
    await page.waitForSelector('table.fleet tbody tr', { timeout: 30_000 })
    await setRefresh(page, 2)
    expectErrors = true
    await proxy.cut()
    try {
      await page.waitForFunction(() => !document.querySelector('#banner')!.hasAttribute('hidden') && /API unreachable/.test(document.querySelector('#banner')!.textContent ?? ''), { timeout: 30_000 })
      await page.screenshot({ path: join(SHOTS, 'unreachable-laptop.png') })
    } finally {
      await proxy.restore()
    }
    await page.waitForFunction(() => document.querySelector('#banner')!.hasAttribute('hidden'), { timeout: 30_000 })
    expectErrors = false
    await page.close()
  })

  it('logged no console errors', () => {
    expect(consoleErrors).toEqual([])
  })
})
