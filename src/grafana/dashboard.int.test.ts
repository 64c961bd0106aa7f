// The shipped Grafana dashboard, tested without Grafana: every panel's and variable's SQL runs on a real
// PostgreSQL (telemetry written through the collector's persist statement, so the ingest triggers fill
// gpus, the latest values and the rollups) after Grafana's expansion of $__timeFilter, $__timeGroup(Alias),
// $__timeFrom/$__timeTo, $__interval and template variables; every PromQL expression names only metrics
// the services register (read from their own /metrics). The chart ships the same JSON, with the label
// Grafana's dashboard sidecar watches.
import { readFileSync } from 'node:fs'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApigw } from '../apigw/app.js'
import { buildCollector } from '../collector/app.js'
import { loadConfig } from '../config/index.js'
import { buildMqreader } from '../mqreader/app.js'
import { buildMqwriter } from '../mqwriter/app.js'
import { buildStreamer } from '../streamer/app.js'
import { csvScrape, persist, scrapeAt } from '../../test/support/dcgm-fixture.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { createPool, type Pool } from '../db/pool.js'
import { ensureServiceLogins, loginName, randomPassword, serviceUrl } from '../db/roles.js'
import { buildDashboard, DASHBOARD_FILE, dashboardText, type Panel, type PromTarget, type SqlTarget } from './dashboard.js'

const silent = pino({ level: 'silent' })

/** Go's time.RFC3339Nano as Grafana formats the range: UTC, fractional seconds without trailing zeros. */
function rfc3339Nano(d: Date): string {
  return d.toISOString().replace(/\.?0+Z$/, 'Z').replace(/\.(\d*?)0*Z$/, '.$1Z')
}

function intervalSeconds(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text.replace(/'/g, ''))
  if (!m) throw new Error(`not an interval: ${text}`)
  return (Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's'])
}

interface Expansion {
  from: Date
  to: Date
  interval: string
  vars: Record<string, string>
}

/**
 * Grafana's two steps for a PostgreSQL query: the frontend replaces template variables (a single value of
 * a non-multi variable goes in with its quotes doubled) and $__interval / $__interval_ms; the backend then
 * expands the macros $__name(args): the same outputs as Grafana's postgres macro engine, including its rule
 * that $__timeGroup directly followed by a comma acts as $__timeGroupAlias.
 */
export function expandGrafanaSql(sql: string, e: Expansion): string {
  let s = sql.replace(/\$__interval_ms\b/g, String(intervalSeconds(e.interval) * 1000)).replace(/\$__interval\b/g, e.interval)
  s = s.replace(/\$\{(\w+)\}|\$(\w+)\b(?!\()/g, (whole, a: string | undefined, b: string | undefined) => {
    const name = a ?? b!
    if (name.startsWith('__')) return whole
    if (!(name in e.vars)) throw new Error(`variable $${name} has no value in the test`)
    return e.vars[name]!.replace(/'/g, "''")
  })
  const from = rfc3339Nano(e.from)
  const to = rfc3339Nano(e.to)
  return s.replace(/\$(\w+)\(([^)]*)\)/g, (whole, name: string, argText: string, offset: number) => {
    const args = argText.split(',').map((a) => a.trim())
    const group = (alias: boolean) => {
      if (args.length < 2) throw new Error(`${whole}: needs a column and an interval`)
      const secs = intervalSeconds(args[1]!)
      return `floor(extract(epoch from ${args[0]})/${secs})*${secs}${alias ? ' AS "time"' : ''}`
    }
    switch (name) {
      case '__time':
        return `${args[0]} AS "time"`
      case '__timeEpoch':
        return `extract(epoch from ${args[0]}) as "time"`
      case '__timeFilter':
        return `${args[0]} BETWEEN '${from}' AND '${to}'`
      case '__timeFrom':
        return `'${from}'`
      case '__timeTo':
        return `'${to}'`
      case '__timeGroup':
        return group(s[offset + whole.length] === ',')
      case '__timeGroupAlias':
        return group(true)
      case '__unixEpochFilter':
        return `${args[0]} >= ${Math.floor(e.from.getTime() / 1000)} AND ${args[0]} <= ${Math.floor(e.to.getTime() / 1000)}`
      default:
        throw new Error(`unknown macro ${whole}`)
    }
  })
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])])
}

const dashboard = buildDashboard() as { panels: Panel[]; templating: { list: { name: string; type: string; query: string }[] } }
const panels = allPanels(dashboard.panels).filter((p) => p.type !== 'row')
const sqlTargets = panels.flatMap((p) => (p.targets ?? []).filter((t): t is SqlTarget => 'rawSql' in t).map((t) => ({ panel: p, t })))
const promTargets = panels.flatMap((p) => (p.targets ?? []).filter((t): t is PromTarget => 'expr' in t).map((t) => ({ panel: p, t })))

let db: TestDatabase
/** Grafana's data source connects as the read-only viewer (kind/grafana-values.yaml): every panel runs as it. */
let viewer: Pool
let vars: Record<string, string>
const now = new Date()
const from = new Date(now.getTime() - 6 * 3600_000)

beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'tpipe_grafana' })
  const scrape = csvScrape()
  // Two hours, one scrape every 10 minutes: several per-minute rollup buckets per GPU and metric.
  for (let k = 12; k >= 0; k--) await persist(db.pool, scrapeAt(scrape, new Date(now.getTime() - k * 600_000 - 1000), 12 - k))
  const first = scrape[0]!
  vars = { host: first.hostname, gpu: first.gpu_uuid, pg: 'tpipe-postgres', prom: 'tpipe-prometheus' }
  const login = { service: 'viewer' as const, user: loginName('viewer', db.name), password: randomPassword() }
  await ensureServiceLogins(db.url, [login])
  viewer = createPool(serviceUrl(db.url, login), { max: 2, applicationName: 'tpipe-test-viewer' })
})

afterAll(async () => {
  await viewer?.end()
  await db?.drop()
})

describe('Grafana dashboard', () => {
  it('the chart ships exactly the generated dashboard (regenerate: npm run build && node dist/scripts/grafana-dashboard.js)', () => {
    expect(readFileSync(DASHBOARD_FILE, 'utf8')).toBe(dashboardText())
  })

  it('has the fleet, per-host, per-GPU and pipeline-health sections, GPU and host variables, unique panel ids and no overlaps', () => {
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title)
    expect(rows).toEqual(['Fleet', 'Host $host: its GPUs side by side', 'GPU $gpu', 'Pipeline health (Prometheus)'])
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['pg', 'prom', 'host', 'gpu'])
    const ids = allPanels(dashboard.panels).map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    const cells = new Set<string>()
    for (const p of allPanels(dashboard.panels)) {
      const g = p.gridPos
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24)
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false)
          cells.add(`${x},${y}`)
        }
      }
    }
    expect(promTargets.length).toBeGreaterThanOrEqual(5)
    expect(sqlTargets.length).toBeGreaterThanOrEqual(15)
  })

  it('expands macros the way Grafana does', () => {
    const e = { from: new Date('2026-11-30T02:00:00Z'), to: new Date('2026-11-30T08:00:00.120Z'), interval: '5m', vars: { host: "o'neil" } }
    expect(expandGrafanaSql(`SELECT $__timeGroupAlias(ts, $__interval), 1 FROM t WHERE $__timeFilter(ts) AND h = '$host'`, e)).toBe(
      `SELECT floor(extract(epoch from ts)/300)*300 AS "time", 1 FROM t WHERE ts BETWEEN '2026-11-30T02:00:00Z' AND '2026-11-30T08:00:00.12Z' AND h = 'o''neil'`,
    )
    expect(expandGrafanaSql('SELECT $__timeGroup(ts, 1m), x', e)).toBe('SELECT floor(extract(epoch from ts)/60)*60 AS "time", x')
    expect(expandGrafanaSql('SELECT $__timeGroup(ts, 1m) AS t', e)).toBe('SELECT floor(extract(epoch from ts)/60)*60 AS t')
    expect(expandGrafanaSql('$__timeFrom() $__timeTo() $__interval_ms', e)).toBe(`'2026-11-30T02:00:00Z' '2026-11-30T08:00:00.12Z' 300000`)
  })

  for (const interval of ['1m', '10m', '1h']) {
    it(`every panel's SQL runs on PostgreSQL with Grafana's expansion ($__interval = ${interval}) and answers data of the right shape`, async () => {
      for (const { panel, t } of sqlTargets) {
        const text = expandGrafanaSql(t.rawSql, { from, to: now, interval, vars })
        const r = await viewer.query(text).catch((err: Error) => {
          throw new Error(`panel "${panel.title}" ${t.refId}: ${err.message}\n${text}`)
        })
        expect(r.rows.length, `panel "${panel.title}" ${t.refId} returns rows`).toBeGreaterThan(0)
        if (t.format === 'time_series') {
          const cols = r.fields.map((f) => f.name)
          expect(cols[0], panel.title).toBe('time')
          const times = r.rows.map((row) => Number(row.time))
          expect(times, `${panel.title}: ordered by time`).toEqual([...times].sort((a, b) => a - b))
          for (const row of r.rows) for (const c of cols.filter((c) => c !== 'time' && c !== 'metric')) expect(Number.isFinite(Number(row[c])), `${panel.title} ${c}`).toBe(true)
          // Buckets are multiples of the interval, inside the range.
          const step = intervalSeconds(interval)
          for (const tm of times) {
            expect(tm % step).toBe(0)
            expect(tm).toBeGreaterThanOrEqual(Math.floor(from.getTime() / 1000 / step) * step)
          }
        }
      }
    })
  }

  it('panel numbers equal the same aggregates computed from the raw telemetry rows', async () => {
    const run = async (title: string) => {
      const { t } = sqlTargets.find(({ panel }) => panel.title === title)!
      return (await viewer.query(expandGrafanaSql(t.rawSql, { from, to: now, interval: '10m', vars }))).rows
    }
    const fleet = await run('Fleet GPU utilisation (avg, min, max per bucket)')
    const raw = await db.pool.query(
      `SELECT floor(extract(epoch from ts)/600)*600 AS time, avg(value) AS avg, min(value) AS min, max(value) AS max FROM telemetry
       WHERE metric_name = 'DCGM_FI_DEV_GPU_UTIL' AND ts BETWEEN $1 AND $2 GROUP BY 1 ORDER BY 1`,
      [from, now],
    )
    expect(fleet.map((r) => [Number(r.time), Number(r.min), Number(r.max)])).toEqual(raw.rows.map((r) => [Number(r.time), Number(r.min), Number(r.max)]))
    fleet.forEach((r, i) => expect(Number(r.avg)).toBeCloseTo(Number(raw.rows[i].avg), 9))
    // At an interval of whole hours the panel reads telemetry_1h: the same numbers as the raw rows of each
    // whole hour overlapping the range.
    const { t: fleetTarget } = sqlTargets.find(({ panel }) => panel.title === 'Fleet GPU utilisation (avg, min, max per bucket)')!
    const hourly = (await viewer.query(expandGrafanaSql(fleetTarget.rawSql, { from, to: now, interval: '1h', vars }))).rows
    const rawHours = await db.pool.query(
      `SELECT floor(extract(epoch from ts)/3600)*3600 AS time, avg(value) AS avg, min(value) AS min, max(value) AS max FROM telemetry
       WHERE metric_name = 'DCGM_FI_DEV_GPU_UTIL' AND ts >= to_timestamp(floor(extract(epoch from $1::timestamptz)/3600)*3600) AND ts <= $2 GROUP BY 1 ORDER BY 1`,
      [from, now],
    )
    expect(rawHours.rows.length).toBeGreaterThan(0)
    expect(hourly.map((r) => [Number(r.time), Number(r.min), Number(r.max)])).toEqual(rawHours.rows.map((r) => [Number(r.time), Number(r.min), Number(r.max)]))
    hourly.forEach((r, i) => expect(Number(r.avg)).toBeCloseTo(Number(rawHours.rows[i].avg), 9))
    const plan = JSON.stringify((await viewer.query(`EXPLAIN (FORMAT JSON) ${expandGrafanaSql(fleetTarget.rawSql, { from, to: now, interval: '1h', vars })}`)).rows[0])
    expect(plan).toMatch(/telemetry_1h/)
    expect(plan, 'the minute branch is folded away').not.toMatch(/telemetry_1m/)

    const [counts] = await run('GPUs idle / busy / hot (latest values)')
    const newest = await db.pool.query(
      `SELECT DISTINCT ON (gpu_uuid, metric_name) gpu_uuid, metric_name, value FROM telemetry ORDER BY gpu_uuid, metric_name, ts DESC, msg_uuid DESC`,
    )
    const util = newest.rows.filter((r) => r.metric_name === 'DCGM_FI_DEV_GPU_UTIL').map((r) => Number(r.value))
    const temp = newest.rows.filter((r) => r.metric_name === 'DCGM_FI_DEV_GPU_TEMP').map((r) => Number(r.value))
    expect({ idle: Number(counts.idle), busy: Number(counts.busy), hot: Number(counts.hot) }).toEqual({
      idle: util.filter((v) => v < 5).length,
      busy: util.filter((v) => v >= 80).length,
      hot: temp.filter((v) => v >= 80).length,
    })
    const [gpus] = await run('GPUs seen in range')
    expect(Number(gpus.GPUs)).toBe(new Set(newest.rows.map((r) => r.gpu_uuid)).size)
    const hostGpus = await run('GPU utilisation per GPU of $host')
    expect(new Set(hostGpus.map((r) => r.metric)).size).toBe(Number((await db.pool.query('SELECT count(*) AS n FROM gpus WHERE hostname = $1', [vars.host])).rows[0].n))
  })

  it('the host and GPU variables list the stored hosts and the GPUs of the chosen host', async () => {
    for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) {
      const r = await viewer.query(expandGrafanaSql(v.query, { from, to: now, interval: '1m', vars }))
      expect(r.rows.length, v.name).toBeGreaterThan(0)
      if (v.name === 'gpu') {
        expect(r.fields.map((f) => f.name)).toEqual(['__text', '__value'])
        expect(r.rows.map((x) => x.__value)).toContain(vars.gpu)
      }
    }
  })

  it('every PromQL expression names only metrics the services register', async () => {
    const config = (scope: Parameters<typeof loadConfig>[2]) => ({ ...loadConfig({}, { TPIPE_DEFAULT_METRICS: 'false', TPIPE_READERS: 'http://127.0.0.1:1', TPIPE_CSV: DASHBOARD_FILE, TPIPE_MQWRITER_URL: 'http://127.0.0.1:1' }, scope) })
    const apps = [
      buildMqwriter(config('mqwriter'), { pool: db.pool, logger: silent }).app,
      buildMqreader(config('mqreader'), { pool: db.pool, databaseUrl: db.url, logger: silent }).app,
      buildCollector(config('collector'), { pool: db.pool, logger: silent }).app,
      buildStreamer(config('streamer'), { logger: silent }).app,
      (await buildApigw(config('apigw'), { pool: db.pool, logger: silent })).app,
    ]
    const exposed = new Set<string>()
    try {
      for (const app of apps) {
        const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
        for (const m of text.matchAll(/^# TYPE (\w+) (\w+)$/gm)) {
          const [, name, type] = m
          if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exposed.add(name + s)
          else exposed.add(name!)
        }
      }
    } finally {
      for (const app of apps) await app.close()
    }
    expect(exposed.size).toBeGreaterThan(10)
    for (const { panel, t } of promTargets) {
      const names = promqlMetricNames(t.expr)
      expect(names.length, `${panel.title}: ${t.expr}`).toBeGreaterThan(0)
      for (const n of names) expect(exposed.has(n), `${panel.title}: ${n} (in ${t.expr}) is not a metric any service exports`).toBe(true)
    }
  })
})

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'inf', 'nan'])

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, labels or durations. */
export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
  return [...stripped.matchAll(/\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w.toLowerCase()) && !/^\d/.test(w))
}
