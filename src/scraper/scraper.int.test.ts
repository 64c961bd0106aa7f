import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/index.js'
import { startDcgmSim, type DcgmSim } from '../dcgmsim/server.js'
import { buildMqwriter, type MqwriterApp } from '../mqwriter/app.js'
import { isTargetsView } from '../protocol/targets.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { QUEUED_MESSAGES } from '../../test/support/queue.js'
import { buildScraper, type ScraperApp } from './app.js'
import { ownerOf } from './shard.js'

const silent = pino({ level: 'silent' })
const CSV = new URL('../../charts/streamer/files/telemetry.csv', import.meta.url).pathname

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)))
}

describe('scraper → mqwriter → queue_messages', () => {
  let db: TestDatabase
  let sim: DcgmSim
  let writer: MqwriterApp
  let writerUrl: string
  let hang: Server
  let broken: Server
  let hangUrl: string
  let brokenUrl: string
  beforeAll(async () => {
    db = await createTestDatabase()
    sim = await startDcgmSim({ csv: CSV, nodes: 3, layout: 'paths', host: '127.0.0.1', port: 0 })
    writer = buildMqwriter(loadConfig({}, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    writerUrl = await writer.app.listen({ host: '127.0.0.1', port: 0 })
    // a target that accepts and never answers, and one that answers 500
    hang = createServer(() => {})
    broken = createServer((_req, res) => {
      res.writeHead(500)
      res.end('boom')
    })
    hangUrl = `http://127.0.0.1:${await listen(hang)}/metrics`
    brokenUrl = `http://127.0.0.1:${await listen(broken)}/metrics`
  })
  afterAll(async () => {
    await sim?.close()
    hang?.closeAllConnections()
    hang?.close()
    broken?.close()
    await writer?.app.close()
    await db?.drop()
  })

  const allTargets = () => [...sim.urls, hangUrl, brokenUrl, 'http://127.0.0.1:1/metrics']

  function scraper(extra: Record<string, string> = {}): ScraperApp {
    const config = loadConfig(
      {
        mqwriter: writerUrl,
        'scrape-targets': allTargets().join(','),
        'scrape-interval-ms': '1500',
        'scrape-timeout-ms': '1000',
        'default-metrics': 'false',
        ...extra,
      },
      {},
      'scraper',
    )
    return buildScraper(config, { logger: silent })
  }

  it('two replicas scraping the same targets store every (series, scrape slot) once; dead targets do not delay live ones', async () => {
    const a = scraper()
    const b = scraper()
    a.start()
    b.start()
    await new Promise((r) => setTimeout(r, 6000))
    await a.app.close()
    await b.app.close()

    // a scrape's 80 samples travel as one bundle row (src/protocol/bundle.ts): counted as messages
    const rows = await db.pool.query<{ ts: string; n: number; series: number }>(
      `SELECT p->>'ts' AS ts, count(*)::int AS n,
              count(DISTINCT (p->>'gpu_uuid', p->>'metric_name'))::int AS series
       FROM (${QUEUED_MESSAGES}) x GROUP BY 1 ORDER BY 1`,
    )
    // 3 nodes × 8 GPUs × 10 metrics per scrape slot of each node; slots from both replicas coincide
    const perSlot = rows.rows.map((r) => r.n)
    expect(rows.rows.length).toBeGreaterThanOrEqual(3) // ≥ 3 slots per node in 6 s at 1.5 s; at least one stored per node
    expect(rows.rows.every((r) => r.n === 80 && r.series === 80)).toBe(true)
    expect(perSlot.reduce((x, y) => x + y, 0)).toBe(await db.pool.query(`SELECT count(*)::int AS n FROM (${QUEUED_MESSAGES}) x`).then((r) => r.rows[0].n))
    // one queue row per node and slot: the two replicas' bundles of the same scrape are the same row
    expect(await db.pool.query('SELECT count(*)::int AS n FROM queue_messages').then((r) => r.rows[0].n)).toBe(perSlot.length)

    // the payload is a telemetry row like the CSV's, with instance/job labels like Prometheus adds
    const one = await db.pool.query(`SELECT id, p FROM (${QUEUED_MESSAGES}) x LIMIT 1`)
    const p = one.rows[0].p
    expect(p).toMatchObject({ metric_name: expect.stringMatching(/^DCGM_FI_DEV_/), gpu_id: expect.any(Number), device: expect.stringMatching(/^nvidia\d$/), model_name: 'NVIDIA H100 80GB HBM3' })
    expect(p.labels).toMatchObject({ instance: expect.stringMatching(/^127\.0\.0\.1:\d+$/), job: 'dcgm-exporter', UUID: p.gpu_uuid })

    // health: live targets up every time; the hanging one timed out, the 500 and the refused one failed
    const h = new Map(a.view().targets.map((t) => [t.url, t]))
    // (on 2 busy shared cores an in-process scrape can itself exceed the timeout now and then)
    for (const u of sim.urls) {
      expect(h.get(u)!.scrapes).toBeGreaterThanOrEqual(3)
      expect(h.get(u)!.scrapes - h.get(u)!.errors).toBeGreaterThanOrEqual(1)
    }
    // a hanging target costs its own slot only: the live ones were scraped at least as often
    for (const u of sim.urls) expect(h.get(u)!.scrapes).toBeGreaterThanOrEqual(h.get(hangUrl)!.scrapes - 1)
    expect(h.get(hangUrl)).toMatchObject({ up: false, last_error: expect.stringMatching(/^timeout/) })
    expect(h.get(brokenUrl)).toMatchObject({ up: false, last_error: 'http: HTTP 500' })
    expect(h.get('http://127.0.0.1:1/metrics')).toMatchObject({ up: false, last_error: expect.stringMatching(/^connection/) })
    const metrics = await a.registry.metrics()
    expect(metrics).toMatch(/scraper_target_up\{target="[^"]+nodes[^"]+"\} 1/)
    expect(metrics).toContain(`scraper_target_up{target="${hangUrl}"} 0`)
    expect(metrics).toMatch(/scraper_target_scrape_errors_total\{target="[^"]+",reason="timeout"\} [1-9]/)
    expect(metrics).toMatch(/scraper_samples_total\{outcome="published"\} [1-9]/)
  })

  it('serves its targets and health on /v1/targets', async () => {
    const s = scraper({ 'scrape-shard': '1/2' })
    try {
      s.start()
      const res = await s.app.inject({ method: 'GET', url: '/v1/targets' })
      expect(res.statusCode).toBe(200)
      const body = res.json()
      expect(body.members).toEqual(['0', '1'])
      expect(body.identity).toBe('1')
      expect(body.discovered).toBe(6)
      // Exactly its shard of the six (the sims' ports are random, so all six can hash to one replica: a bound
      // like "fewer than 6" failed about one run in 32).
      const own = allTargets().filter((u) => ownerOf(u, ['0', '1']) === '1')
      expect((body.targets as { url: string }[]).map((t) => t.url).sort()).toEqual(own.sort())
      // What `tpipe status` on a cluster accepts from a scraper pod (src/cluster/status.ts).
      expect(isTargetsView(body)).toBe(true)
    } finally {
      await s.app.close()
    }
  })
})
