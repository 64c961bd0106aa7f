// A real Prometheus (Debian's `prometheus` package; .ci/run installs it) scrapes `tpipe dcgm-sim` and
// remote-writes to mqwriter, which is SIGKILLed and restarted on the same port while Prometheus keeps
// sending; mqreader + collector move the queue into telemetry. Every DCGM sample Prometheus scraped —
// read back through its own query API — must be in telemetry exactly once, with its time and value.
// Prometheus and every child run on free ports with temporary storage; only processes this test
// started are killed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDcgmSim, type DcgmSim } from '../dcgmsim/server.js'
import { freePort } from '../local/supervisor.js'
import { createTestDatabase, type TestDatabase } from '../testing/db.js'

const BIN = join(process.cwd(), 'bin', 'run.js')
const CSV = join(process.cwd(), 'charts', 'streamer', 'files', 'telemetry.csv')
const PROMETHEUS = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).stdout.trim()

const children = new Set<ChildProcess>()
let db: TestDatabase
let sim: DcgmSim
let dir: string

function start(cmd: string, args: string[], env: Record<string, string> = {}): { proc: ChildProcess; log: () => string } {
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(proc)
  proc.once('exit', () => children.delete(proc))
  let out = ''
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000)
  }
  proc.stdout!.on('data', keep)
  proc.stderr!.on('data', keep)
  return { proc, log: () => out }
}

function serve(service: string, port: number, args: string[] = []) {
  return start(process.execPath, [BIN, 'serve', service, '--port', String(port), '--host', '127.0.0.1', ...args], {
    DATABASE_URL: db.url,
    TPIPE_LOG_LEVEL: 'warn',
    TPIPE_DEFAULT_METRICS: 'false',
  })
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined) return v
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const ready = (port: number) => until(`service on ${port}`, 90_000, async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined))

async function promQuery(port: number, query: string): Promise<{ metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[]> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`)
  const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[] } }
  if (body.status !== 'success') throw new Error(JSON.stringify(body))
  return body.data.result
}

async function promMetric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  let sum = 0
  for (const line of text.split('\n')) if (line.startsWith(name + '{') || line.startsWith(name + ' ')) sum += Number(line.split(' ').at(-1))
  return sum
}

describe.skipIf(!PROMETHEUS && !process.env.CI)('a real Prometheus remote-writing to mqwriter', () => {
  beforeAll(async () => {
    if (!PROMETHEUS) throw new Error('prometheus is not installed (apt-get install -y prometheus; .ci/run does)')
    if (!existsSync(join(process.cwd(), 'dist', 'commands', 'serve', 'mqwriter.js'))) throw new Error('build dist first: npx tsc -p tsconfig.build.json')
    db = await createTestDatabase()
    dir = mkdtempSync(join(tmpdir(), 'tpipe-prom-'))
    sim = await startDcgmSim({ csv: CSV, nodes: 2, layout: 'ports', host: '127.0.0.1', port: 0, frameSeconds: 5 })
  })
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL')
    await sim?.close()
    await db?.drop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('every DCGM sample Prometheus scraped is in telemetry exactly once, across a kill -9 of mqwriter', async () => {
    const [writerPort, readerPort, collectorPort, promPort] = [await freePort(), await freePort(), await freePort(), await freePort()]
    let writer = serve('mqwriter', writerPort)
    const reader = serve('mqreader', readerPort, ['--partitions', '0-255', '--reader-name', 'prom-reader'])
    const collector = serve('collector', collectorPort, ['--readers', `http://127.0.0.1:${readerPort}`])
    try {
      await Promise.all([ready(writerPort), ready(readerPort), ready(collectorPort)])
    } catch (err) {
      console.log(writer.log(), reader.log(), collector.log())
      throw err
    }

    const targets = sim.urls.map((u) => new URL(u).host)
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 900ms',
        'scrape_configs:',
        '  - job_name: dcgm-exporter',
        '    static_configs:',
        `      - targets: [${targets.map((t) => `"${t}"`).join(', ')}]`,
        'remote_write:',
        `  - url: http://127.0.0.1:${writerPort}/api/v1/write`,
        '    remote_timeout: 5s',
        '    queue_config:',
        '      batch_send_deadline: 500ms',
        '      max_samples_per_send: 500',
        '      min_backoff: 100ms',
        '      max_backoff: 1s',
        '',
      ].join('\n'),
    )
    const prom = start(PROMETHEUS, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ])
    try {
      await until('prometheus ready', 60_000, async () => ((await fetch(`http://127.0.0.1:${promPort}/-/ready`)).ok ? true : undefined))
      await until('samples remote-written', 30_000, async () => ((await promMetric(promPort, 'prometheus_remote_storage_samples_total')) > 200 ? true : undefined))

      // kill -9 mqwriter while Prometheus keeps scraping and sending; restart it on the same port
      writer.proc.kill('SIGKILL')
      await new Promise((r) => setTimeout(r, 4000))
      const failedWhileDown = await promMetric(promPort, 'prometheus_remote_storage_samples_retried_total')
      writer = serve('mqwriter', writerPort)
      await ready(writerPort)
      await new Promise((r) => setTimeout(r, 4000))

      // stop the source: Prometheus marks the series stale (NaN, dropped by mqwriter) and drains its queue
      await sim.close()
      await until('remote write caught up', 60_000, async () => {
        const highest = await promMetric(promPort, 'prometheus_remote_storage_highest_timestamp_in_seconds')
        const sent = await promMetric(promPort, 'prometheus_remote_storage_queue_highest_sent_timestamp_seconds')
        const pending = await promMetric(promPort, 'prometheus_remote_storage_samples_pending')
        return highest > 0 && sent >= highest && pending === 0 ? true : undefined
      })

      // every raw DCGM sample Prometheus holds, through its query API
      const result = await promQuery(promPort, '{__name__=~"DCGM_.+"}[1h]')
      const scraped = new Map<string, number>()
      for (const s of result) {
        for (const [t, v] of s.values ?? []) scraped.set(`${s.metric.UUID}|${s.metric.__name__}|${Math.round(t * 1000)}`, Number(v))
      }
      expect(scraped.size).toBeGreaterThan(1000)

      // …all in telemetry once the queue is drained
      await until('queue drained into telemetry', 60_000, async () => {
        const r = await db.pool.query(`SELECT (SELECT count(*) FROM queue_messages)::int AS q, (SELECT count(*) FROM telemetry)::int AS t`)
        return r.rows[0].q === 0 && r.rows[0].t >= scraped.size ? true : undefined
      })
      const rows = await db.pool.query<{ k: string; value: number; n: number }>(
        `SELECT gpu_uuid || '|' || metric_name || '|' || (extract(epoch FROM ts) * 1000)::bigint AS k, min(value) AS value, count(*)::int AS n
         FROM telemetry GROUP BY 1`,
      )
      const stored = new Map(rows.rows.map((r) => [r.k, r]))
      const missing = [...scraped.keys()].filter((k) => !stored.has(k))
      const extra = [...stored.keys()].filter((k) => !scraped.has(k))
      const duplicated = rows.rows.filter((r) => r.n !== 1)
      const wrong = [...scraped].filter(([k, v]) => stored.get(k) && stored.get(k)!.value !== v)
      console.log(
        `prometheus e2e: ${scraped.size} DCGM samples scraped by Prometheus, ${rows.rows.length} in telemetry; missing ${missing.length}, extra ${extra.length}, duplicated ${duplicated.length}, wrong value ${wrong.length}; Prometheus retried ${failedWhileDown} samples while mqwriter was down`,
      )
      expect(missing).toEqual([])
      expect(extra).toEqual([])
      expect(duplicated).toEqual([])
      expect(wrong).toEqual([])
      expect(failedWhileDown).toBeGreaterThan(0)
    } catch (err) {
      console.log('prometheus log:\n' + prom.log().slice(-3000) + '\nmqwriter log:\n' + writer.log().slice(-3000) + '\ncollector:\n' + collector.log().slice(-2000) + reader.log().slice(-2000))
      throw err
    }
  })
})
