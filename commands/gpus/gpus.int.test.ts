// `tpipe gpus list|top|telemetry` on the Query API, run as the built CLI (node bin/run.js; `npm run build`
// first) against a real apigw on a real database the collector's own statements filled: what the CLI
// prints is compared with what the API answers for the same question, number for number.
import { randomUUID } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApigw } from '../../src/apigw/app.js'
import { columnsOf } from '../../src/collector/columns.js'
import { persistBatch } from '../../src/collector/sql.js'
import { deriveOnce } from '../../src/telemetry/derive.js'
import type { FleetList, GpuSeries } from '../../src/protocol/series.js'
import type { TelemetryPage } from '../../src/protocol/apigw.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { waitFor } from '../../src/util/async.js'
import { formatValue } from '../../src/web/metrics.js'

const UTIL = 'DCGM_FI_DEV_GPU_UTIL'
const TEMP = 'DCGM_FI_DEV_GPU_TEMP'
const GPUS = [
  { gpu_uuid: 'GPU-cli-a0', hostname: 'host-a', gpu_id: 0, model_name: 'NVIDIA H100 80GB HBM3' },
  { gpu_uuid: 'GPU-cli-a1', hostname: 'host-a', gpu_id: 1, model_name: 'NVIDIA A100-SXM4-80GB' },
  { gpu_uuid: 'GPU-cli-b0', hostname: 'host-b', gpu_id: 0, model_name: 'NVIDIA H100 80GB HBM3' },
]
// 40 minutes of samples every 10 s, ending 10 minutes ago: windows of an hour ending now hold all of it
// whatever minute the CLI and the API each resolve "now" in.
const NOW = Date.now()
const FIRST = NOW - 50 * 60_000
const LAST = NOW - 10 * 60_000
// Absolute, minute-aligned bounds for exact comparisons.
const START = new Date(Math.ceil(FIRST / 60_000) * 60_000 + 5 * 60_000).toISOString()
const END = new Date(Math.floor(LAST / 60_000) * 60_000 - 5 * 60_000).toISOString()

let db: TestDatabase
let app: FastifyInstance
let api: string
let rowCount = 0

function tpipe(args: string[]) {
  return execa('node', ['bin/run.js', ...args], { reject: false, env: { TPIPE_API_URL: '', NO_COLOR: '1', NODE_ENV: 'production' }, timeout: 60_000 })
}

async function apiGet<T>(url: string): Promise<T> {
  const res = await app.inject({ method: 'GET', url })
  expect(res.statusCode, res.body).toBe(200)
  return res.json() as T
}

beforeAll(async () => {
  db = await createTestDatabase()
  const rows: Record<string, unknown>[] = []
  let seq = 0
  for (let t = FIRST; t <= LAST; t += 10_000) {
    for (const [gi, g] of GPUS.entries()) {
      for (const metric of [UTIL, TEMP]) {
        seq++
        const value = metric === UTIL ? ((seq * 37) % 101) + gi / 10 : 40 + ((seq * 13) % 30)
        rows.push({ msg_uuid: randomUUID(), ...g, device: `nvidia${g.gpu_id}`, metric_name: metric, value, ts: new Date(t).toISOString() })
      }
    }
  }
  rowCount = rows.length
  for (let i = 0; i < rows.length; i += 500) await db.pool.query(persistBatch(columnsOf(rows.slice(i, i + 500)), []))
  await deriveOnce(db.pool, { quietSeconds: 0 })
  ;({ app } = await buildApigw({ logLevel: 'silent', bodyLimitBytes: 1048576, metricsEnabled: false }, { pool: db.pool, logger: pino({ level: 'silent' }) }))
  api = await app.listen({ host: '127.0.0.1', port: 0 })
}, 120_000)

afterAll(async () => {
  await app?.close()
  await db?.drop()
})

describe('tpipe gpus list --hostname/--model', () => {
  it('lists the GPUs the API lists for the same filter', async () => {
    for (const [flag, param, value] of [['--hostname', 'hostname', 'host-a'], ['--model', 'model', 'NVIDIA H100 80GB HBM3']] as const) {
      const r = await tpipe(['gpus', 'list', '--api-url', api, flag, value, '--json'])
      expect(r.exitCode, r.stderr).toBe(0)
      const want = await apiGet<FleetList>(`/api/v1/gpus?${param}=${encodeURIComponent(value)}`)
      expect(want.gpus).toHaveLength(2)
      expect(JSON.parse(r.stdout)).toEqual(want)
    }
    const csv = await tpipe(['gpus', 'list', '--api-url', api, '--hostname', 'host-b', '--model', 'NVIDIA H100 80GB HBM3', '-o', 'csv'])
    expect(csv.stdout.split('\n').slice(1).map((l) => l.split(',')[0])).toEqual(['GPU-cli-b0'])
    const none = await tpipe(['gpus', 'list', '--api-url', api, '--hostname', 'nosuch'])
    expect([none.exitCode, none.stdout]).toEqual([0, 'no GPUs match'])
  })
})

describe('tpipe gpus top', () => {
  it('ranks by the latest value, as the API does', async () => {
    const want = await apiGet<FleetList>(`/api/v1/gpus?metrics=${UTIL}&sort=${UTIL}&order=desc&limit=2`)
    const r = await tpipe(['gpus', 'top', '--api-url', api, '--metric', UTIL, '--limit', '2', '-o', 'csv'])
    expect(r.exitCode, r.stderr).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toBe(`id,hostname,gpu_id,model_name,${UTIL},ts`)
    expect(lines.slice(1)).toEqual(want.gpus.map((g) => [g.id, g.hostname, g.gpu_id, g.model_name, g.latest![UTIL]!.value, g.latest![UTIL]!.ts].join(',')))
    // The latest values are those of the newest raw rows.
    const newest = await db.pool.query<{ gpu_uuid: string; value: number }>(`SELECT DISTINCT ON (gpu_uuid) gpu_uuid, value FROM telemetry WHERE metric_name = $1 ORDER BY gpu_uuid, ts DESC`, [UTIL])
    const byGpu = new Map(newest.rows.map((x) => [x.gpu_uuid, x.value]))
    const values = want.gpus.map((g) => g.latest![UTIL]!.value)
    expect(values).toEqual(want.gpus.map((g) => byGpu.get(g.id)))
    expect(values[0]).toBeGreaterThanOrEqual(values[1]!)
    // The table shows the same numbers; asc and the host filter reach the API.
    const table = await tpipe(['gpus', 'top', '--api-url', api, '--metric', UTIL, '--order', 'asc', '--hostname', 'host-a'])
    const asc = await apiGet<FleetList>(`/api/v1/gpus?metrics=${UTIL}&sort=${UTIL}&order=asc&limit=10&hostname=host-a`)
    const body = table.stdout.split('\n').slice(1)
    expect(body.map((l) => l.split(/\s+/)[0])).toEqual(asc.gpus.map((g) => g.id))
    expect(body.map((l) => Number(l.split(/\s{2,}/)[4]))).toEqual(asc.gpus.map((g) => g.latest![UTIL]!.value))
  })

  it('refuses --iterations without --watch and --json with --watch (usage, exit 2)', async () => {
    const a = await tpipe(['gpus', 'top', '--api-url', api, '--metric', UTIL, '--iterations', '2'])
    expect([a.exitCode, a.stderr.trim()]).toEqual([2, 'Error: --iterations: only with --watch'])
    const b = await tpipe(['gpus', 'top', '--api-url', api, '--metric', UTIL, '--watch', '--json'])
    expect(b.exitCode).toBe(2)
    expect(JSON.parse(b.stdout)).toMatchObject({ error: { code: 'TPIPE_ERR_USAGE', exit: 2 } })
  })

  it('--watch without a terminal prints each refresh in turn (like top -b)', async () => {
    const r = await tpipe(['gpus', 'top', '--api-url', api, '--metric', UTIL, '--limit', '3', '--watch', '--interval', '1', '--iterations', '2'])
    expect(r.exitCode, r.stderr).toBe(0)
    const frames = r.stdout.split(/^top 3 by DCGM_FI_DEV_GPU_UTIL \(desc\) · every 1 s · \S+Z$/m)
    expect(frames).toHaveLength(3)
    for (const f of frames.slice(1)) expect(f.trim().split('\n')).toHaveLength(4)
  })
})

describe('tpipe gpus telemetry --step/--agg/--since', () => {
  it('prints the API buckets for several metrics and the chosen aggregate', async () => {
    // Every aggregate is checked against computed values in src/apigw/fleet.int.test.ts; here the CLI passes two on.
    for (const agg of ['avg', 'count']) {
      const r = await tpipe(['gpus', 'telemetry', 'GPU-cli-a1', '--api-url', api, '--metric', UTIL, '--metric', TEMP, '--step', '5m', '--agg', agg, '--start', START, '--end', END, '-o', 'csv'])
      expect(r.exitCode, r.stderr).toBe(0)
      const want = await apiGet<GpuSeries>(`/api/v1/gpus/GPU-cli-a1/telemetry?metric=${UTIL}&metric=${TEMP}&step=5m&agg=${agg}&start=${START}&end=${END}`)
      expect(want.series.map((s) => s.metric)).toEqual([UTIL, TEMP])
      const lines = r.stdout.split('\n')
      expect(lines[0]).toBe(`time,metric_name,${agg}`)
      const expected = want.series.flatMap((s) => s.points.map(([t, v]) => `${new Date(t * 1000).toISOString()},${s.metric},${v}`))
      expect(expected.length).toBeGreaterThan(10)
      expect(lines.slice(1)).toEqual(expected)
    }
  })

  it('takes a window ending now with --since, and prints the API answer with --json', async () => {
    const r = await tpipe(['gpus', 'telemetry', 'GPU-cli-b0', '--api-url', api, '--step', '1m', '--agg', 'max', '--since', '1h', '--json'])
    expect(r.exitCode, r.stderr).toBe(0)
    const got = JSON.parse(r.stdout) as GpuSeries
    const want = await apiGet<GpuSeries>(`/api/v1/gpus/GPU-cli-b0/telemetry?step=1m&agg=max&window=1h`)
    expect(got.series).toEqual(want.series)
    expect(got.series.map((s) => s.metric).sort()).toEqual([TEMP, UTIL])
    expect(got.series[0]!.points).toHaveLength(41)
    expect(Date.parse(got.end) - Date.parse(got.start)).toBe(3_600_000)
  })

  it('accepts the time forms people type and names the flag as typed when one is wrong', async () => {
    for (const start of ['2h ago', 'yesterday', new Date(FIRST - 86_400_000).toISOString().slice(0, 10)]) {
      const r = await tpipe(['gpus', 'telemetry', 'GPU-cli-a0', '--api-url', api, '--metric', UTIL, '--step', '1h', '--agg', 'count', `--start=${start}`, '--end', 'now', '--json'])
      expect(r.exitCode, `${start}: ${r.stderr}`).toBe(0)
      const got = JSON.parse(r.stdout) as GpuSeries
      expect(got.series[0]!.points.reduce((s, [, v]) => s + v, 0), start).toBe(rowCount / GPUS.length / 2)
    }
    const bad = await tpipe(['gpus', 'telemetry', 'GPU-cli-a0', '--api-url', api, '--start', 'soon'])
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr.trim()).toMatch(/^Error: --start "soon" is not a time: use RFC 3339 \(2025-07-18T20:42:34Z\), a date \(2025-07-18, midnight UTC\), .*now, today, yesterday, or relative to now \(-1h, 15m ago, 7d ago\)$/)
    const since = await tpipe(['gpus', 'telemetry', 'GPU-cli-a0', '--api-url', api, '--since', 'an hour'])
    expect([since.exitCode, since.stderr.trim()]).toEqual([2, 'Error: --since "an hour" is not a duration such as 15m, 1h, 24h or 7d'])
    const agg = await tpipe(['gpus', 'telemetry', 'GPU-cli-a0', '--api-url', api, '--agg', 'max'])
    expect([agg.exitCode, agg.stderr.trim()]).toEqual([2, 'Error: --agg: only with --step (or --plot)'])
    const mixed = await tpipe(['gpus', 'telemetry', 'GPU-cli-a0', '--api-url', api, '--step', '1m', '--all'])
    expect([mixed.exitCode, mixed.stderr.trim()]).toEqual([2, 'Error: --all: only for raw rows (without --step and --plot)'])
    const cap = await tpipe(['gpus', 'telemetry', 'GPU-cli-a0', '--api-url', api, '--step', '1s', '--since', '7d'])
    expect(cap.exitCode).toBe(1)
    expect(cap.stderr).toMatch(/^Error: apigw answered 400 TPIPE_ERR_BAD_PARAMETER: step: .* use a step of at least \d+s or a shorter window\n?$/)
  })
})

describe('tpipe gpus telemetry raw rows', () => {
  it('shows the newest rows first (the API with order=desc), --order asc the oldest', async () => {
    const r = await tpipe(['gpus', 'telemetry', 'GPU-cli-a0', '--api-url', api, '--limit', '3', '-o', 'json'])
    expect(r.exitCode, r.stderr).toBe(0)
    const got = JSON.parse(r.stdout) as TelemetryPage
    const want = await apiGet<TelemetryPage>('/api/v1/gpus/GPU-cli-a0/telemetry?order=desc&limit=3')
    expect(got.telemetry).toEqual(want.telemetry)
    expect(got.telemetry[0]!.ts).toBe(`${new Date(LAST).toISOString().slice(0, 19)}.${new Date(LAST).toISOString().slice(20, 23)}000Z`)
    const asc = await tpipe(['gpus', 'telemetry', 'GPU-cli-a0', '--api-url', api, '--limit', '3', '--order', 'asc', '-o', 'json'])
    expect((JSON.parse(asc.stdout) as TelemetryPage).telemetry[0]!.ts.slice(0, 19)).toBe(new Date(FIRST).toISOString().slice(0, 19))
  })

  it('follows every newest-first page with --all: each row once, in descending (ts, msg_uuid) order', async () => {
    const r = await tpipe(['gpus', 'telemetry', 'GPU-cli-a0', '--api-url', api, '--limit', '97', '--all', '-o', 'csv'])
    expect(r.exitCode, r.stderr).toBe(0)
    const rows = r.stdout.split('\n').slice(1).map((l) => l.split(','))
    expect(rows).toHaveLength(rowCount / GPUS.length)
    expect(new Set(rows.map((x) => x[3])).size).toBe(rows.length)
    const keys = rows.map((x) => `${x[0]} ${x[3]}`)
    expect(keys).toEqual([...keys].sort().reverse())
  })
})

// The views as a person sees them: the real CLI in a real terminal (tmux; .ci/run installs it), the
// screen read back with capture-pane. Captures go to screenshots/terminal/ (git-ignored) to look at.
describe('in a terminal (tmux)', () => {
  const socket = `tpipe-test-${process.pid}`
  const SHOTS = join(process.env.TPIPE_SCREENSHOTS ?? join(process.cwd(), 'screenshots'), 'terminal')
  const tmux = (...args: string[]) => execa('tmux', ['-L', socket, '-f', '/dev/null', ...args])
  const capture = async (history = false) => (await tmux('capture-pane', '-p', '-t', 't', ...(history ? ['-S', '-', '-E', '-'] : []))).stdout
  const pane = async (format: string) => (await tmux('display-message', '-p', '-t', 't', format)).stdout.trim()
  const save = (name: string, text: string) => writeFileSync(join(SHOTS, `${name}.txt`), text)

  /** Runs a shell line in a fresh 100×30 session; the shell marks the command's start and exit code. */
  async function run(line: string) {
    await tmux('kill-session', '-t', 't').catch(() => {})
    await tmux('new-session', '-d', '-s', 't', '-x', '100', '-y', '30', '-c', process.cwd(), `echo BEFORE-THE-COMMAND; export NO_COLOR=1 NODE_ENV=production; ${line}; echo "EXIT=$?"; sleep 600`)
  }

  beforeAll(() => mkdirSync(SHOTS, { recursive: true }))
  afterAll(async () => {
    await tmux('kill-server').catch(() => {})
  })

  it('gpus top --watch redraws in place, shows new data, and q and Ctrl-C each quit cleanly and restore the terminal', async () => {
    for (const quit of ['q', 'C-c']) {
      await run(`node bin/run.js gpus top --api-url ${api} --metric ${UTIL} --limit 5 --watch --interval 1`)
      const first = await waitFor(async () => ((await capture()).includes('GPU-cli-') ? capture() : undefined), { timeoutMs: 45_000, what: 'the first frame' })
      // The alternate screen with the cursor hidden, the frame at the top (the marker echoed before is not on it).
      expect(await pane('#{alternate_on} #{cursor_flag}')).toBe('1 0')
      const lines = first.split('\n')
      expect(lines[0]).toMatch(new RegExp(`^top 5 by ${UTIL} \\(desc\\) · every 1 s · \\S+Z · q or Ctrl-C to quit$`))
      expect(first).not.toContain('BEFORE-THE-COMMAND')
      const want = await apiGet<FleetList>(`/api/v1/gpus?metrics=${UTIL}&sort=${UTIL}&order=desc&limit=5`)
      expect(lines.slice(3, 3 + want.gpus.length).map((l) => [l.split(/\s+/)[0], Number(l.split(/\s{2,}/)[4])])).toEqual(want.gpus.map((g) => [g.id, g.latest![UTIL]!.value]))
      if (quit === 'q') {
        save('gpus-top-watch-1', first)
        // A new GPU at the top: the next refresh shows it in place (same screen, header still on line 1).
        const row = { msg_uuid: randomUUID(), gpu_uuid: 'GPU-cli-new', gpu_id: 3, hostname: 'host-c', device: 'nvidia3', model_name: 'NVIDIA H100 80GB HBM3', metric_name: UTIL, value: 1000, ts: new Date().toISOString() }
        await db.pool.query(persistBatch(columnsOf([row]), []))
        await deriveOnce(db.pool, { quietSeconds: 0 })
        const next = await waitFor(async () => {
          const c = await capture()
          return c.split('\n')[3]?.startsWith('GPU-cli-new') ? c : undefined
        }, { timeoutMs: 20_000, what: 'the refresh with the new GPU' })
        save('gpus-top-watch-2', next)
        expect(next.split('\n')[0]).toMatch(/^top 5 by /)
        expect(next.split('\n')[3]).toMatch(/^GPU-cli-new\s+host-c\s+3\s+NVIDIA H100 80GB HBM3\s+1000\s/)
        expect(next.split('\n').filter((l) => l.startsWith('top 5 by'))).toHaveLength(1)
      }
      await tmux('send-keys', '-t', 't', quit)
      const after = await waitFor(async () => ((await capture()).includes('EXIT=') ? capture(true) : undefined), { timeoutMs: 20_000, what: `exit after ${quit}` })
      save(`gpus-top-watch-after-${quit}`, after)
      // Back on the normal screen, cursor shown, nothing of the frames left in the scrollback.
      expect(after.trim().split('\n')).toEqual(['BEFORE-THE-COMMAND', 'EXIT=0'])
      expect(await pane('#{alternate_on} #{cursor_flag}')).toBe('0 1')
    }
  })

  it('gpus telemetry --plot draws one chart per metric as wide as the terminal, with the API numbers', async () => {
    await run(`node bin/run.js gpus telemetry GPU-cli-a0 --api-url ${api} --metric ${UTIL} --metric ${TEMP} --plot --start ${START} --end ${END}`)
    const text = await waitFor(async () => ((await capture()).includes('EXIT=') ? capture(true) : undefined), { timeoutMs: 45_000, what: 'the plot' })
    save('gpus-telemetry-plot', text)
    const lines = text.replace(/\n+$/, '').split('\n')
    expect(lines[0]).toBe('BEFORE-THE-COMMAND')
    expect(lines.at(-1)).toBe('EXIT=0')
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(100)
    const answer = await apiGet<GpuSeries>(`/api/v1/gpus/GPU-cli-a0/telemetry?metric=${UTIL}&metric=${TEMP}&start=${START}&end=${END}&step=${/ avg per (\S+)/.exec(text)![1]}&agg=avg`)
    for (const [title, metric] of [['GPU utilisation (%)', UTIL], ['Temperature (°C)', TEMP]] as const) {
      const at = lines.findIndex((l) => l.startsWith(`${title} — ${metric}, avg per `))
      expect(at, title).toBeGreaterThan(0)
      const pts = answer.series.find((s) => s.metric === metric)!.points
      const vs = pts.map(([, v]) => v)
      expect(lines[at + 1]).toBe(`min ${formatValue(metric, Math.min(...vs))} · max ${formatValue(metric, Math.max(...vs))} · last ${formatValue(metric, vs.at(-1)!)} · ${pts.length} points`)
      // 9 plot rows (8 steps), then the time axis from the window's start to its end.
      expect(lines[at + 11]).toMatch(new RegExp(`^\\s+${START.slice(11, 16)}Z .* ${END.slice(11, 16)}Z$`))
      expect(lines.slice(at + 2, at + 11).every((l) => /[┤┼]/.test(l))).toBe(true)
    }
  })
})
