// `tpipe gpus …` and `tpipe openapi`, run as the built CLI (node bin/run.js; needs `npx tsc -p tsconfig.build.json`)
// against a real apigw on a real, directly seeded database.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { buildApigw } from './app.js'

const GPU_A = 'GPU-aaaaaaaa-0000-0000-0000-000000000001'
const GPU_B = 'GPU-bbbbbbbb-0000-0000-0000-000000000002'
let db: TestDatabase
let app: FastifyInstance
let api: string
let dir: string

function tpipe(args: string[]) {
  return execa('node', ['bin/run.js', ...args], { reject: false, env: { TPIPE_API_URL: '', NO_COLOR: '1', NODE_ENV: 'production' }, timeout: 60_000 })
}

beforeAll(async () => {
  db = await createTestDatabase()
  const rows = []
  for (let s = 0; s < 3; s++) {
    for (const [metric, value] of [['DCGM_FI_DEV_GPU_UTIL', 50 + s], ['DCGM_FI_DEV_GPU_TEMP', 40 + s]] as const) {
      rows.push({ msg_uuid: randomUUID(), gpu_uuid: GPU_A, gpu_id: 0, hostname: 'host-1', metric_name: metric, value, ts: `2026-06-01T00:00:0${s}Z` })
    }
  }
  rows.push({ msg_uuid: randomUUID(), gpu_uuid: GPU_B, gpu_id: 7, hostname: 'a-much-longer-host-name', metric_name: 'DCGM_FI_DEV_GPU_UTIL', value: 1, ts: '2026-06-01T00:00:00Z' })
  await db.pool.query(
    `INSERT INTO telemetry (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts)
     SELECT msg_uuid, gpu_uuid, gpu_id, 'nvidia' || gpu_id, hostname, 'NVIDIA H100 80GB HBM3', metric_name, value, ts
     FROM json_to_recordset($1::json) AS r(msg_uuid uuid, gpu_uuid text, gpu_id smallint, hostname text, metric_name text, value float8, ts timestamptz)`,
    [JSON.stringify(rows)],
  )
  ;({ app } = await buildApigw({ logLevel: 'silent', bodyLimitBytes: 1048576, metricsEnabled: false }, { pool: db.pool, logger: pino({ level: 'silent' }) }))
  api = await app.listen({ host: '127.0.0.1', port: 0 })
  dir = mkdtempSync(join(tmpdir(), 'tpipe-cli-'))
})

afterAll(async () => {
  await app?.close()
  rmSync(dir, { recursive: true, force: true })
  await db?.drop()
})

describe('tpipe gpus list', () => {
  it('prints an aligned table', async () => {
    const r = await tpipe(['gpus', 'list', '--api-url', api])
    expect(r.exitCode).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/^ID\s+HOSTNAME\s+GPU_ID\s+DEVICE\s+MODEL_NAME\s+LAST_SEEN$/)
    // Sorted by hostname; every column starts at the same offset on every line.
    expect(lines[1]).toContain(GPU_B)
    expect(lines[2]).toContain(GPU_A)
    for (const h of ['HOSTNAME', 'GPU_ID', 'LAST_SEEN']) {
      const at = lines[0]!.indexOf(h)
      expect(lines[1]![at - 1]).toBe(' ')
      expect(lines[2]!.slice(at)).toMatch(/^\S/)
    }
  })

  it('prints JSON with --output json and with --json', async () => {
    for (const flag of [['--output', 'json'], ['--json']]) {
      const r = await tpipe(['gpus', 'list', '--api-url', api, ...flag])
      expect(r.exitCode).toBe(0)
      const body = JSON.parse(r.stdout) as { gpus: { id: string; gpu_id: number }[] }
      expect(body.gpus.map((g) => g.id)).toEqual([GPU_B, GPU_A])
      expect(body.gpus[0]!.gpu_id).toBe(7)
    }
  })

  it('prints CSV with --output csv', async () => {
    const r = await tpipe(['gpus', 'list', '--api-url', api, '-o', 'csv'])
    expect(r.exitCode).toBe(0)
    expect(r.stdout.split('\n')).toEqual([
      'id,hostname,gpu_id,device,model_name,last_seen',
      `${GPU_B},a-much-longer-host-name,7,nvidia7,NVIDIA H100 80GB HBM3,2026-06-01T00:00:00.000000Z`,
      `${GPU_A},host-1,0,nvidia0,NVIDIA H100 80GB HBM3,2026-06-01T00:00:02.000000Z`,
    ])
  })

  it('says in one line that apigw is not running, and exits non-zero', async () => {
    const probe = createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const port = (probe.address() as { port: number }).port
    await new Promise((r) => probe.close(r))
    const r = await tpipe(['gpus', 'list', '--api-url', `http://127.0.0.1:${port}`])
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toEqual([`Error: cannot reach apigw at http://127.0.0.1:${port}: connection refused (is it running? start the whole pipeline with \`tpipe dev\`, or point --api-url / TPIPE_API_URL at a running apigw)`])
  })
})

describe('tpipe gpus telemetry', () => {
  it('prints a window as a table, newest first, filtered by metric', async () => {
    const r = await tpipe(['gpus', 'telemetry', GPU_A, '--api-url', api, '--start', '2026-06-01T00:00:01Z', '--end', '2026-06-01T00:00:02Z', '--metric', 'DCGM_FI_DEV_GPU_TEMP'])
    expect(r.exitCode).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toMatch(/^TS\s+METRIC_NAME\s+VALUE\s+MSG_UUID$/)
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      '2026-06-01T00:00:02.000000Z DCGM_FI_DEV_GPU_TEMP 42',
      '2026-06-01T00:00:01.000000Z DCGM_FI_DEV_GPU_TEMP 41',
    ])
  })

  it('follows next_cursor with --all (csv streams page by page, json collects)', async () => {
    const csv = await tpipe(['gpus', 'telemetry', GPU_A, '--api-url', api, '--limit', '2', '--all', '-o', 'csv'])
    expect(csv.exitCode).toBe(0)
    const lines = csv.stdout.split('\n')
    expect(lines[0]).toBe('ts,metric_name,value,msg_uuid')
    expect(lines).toHaveLength(7)
    const json = await tpipe(['gpus', 'telemetry', GPU_A, '--api-url', api, '--limit', '4', '--all', '--json'])
    const body = JSON.parse(json.stdout) as { telemetry: { msg_uuid: string }[]; next_cursor: string | null }
    expect(new Set(body.telemetry.map((t) => t.msg_uuid)).size).toBe(6)
    expect(body.next_cursor).toBeNull()
    const detail = await tpipe(['gpus', 'telemetry', GPU_A, '--api-url', api, '--limit', '1', '--detail', '-o', 'csv'])
    expect(detail.stdout.split('\n')[0]).toBe('ts,metric_name,value,msg_uuid,container,pod,namespace,labels')
    // Without --all: one page and a hint on stderr.
    const one = await tpipe(['gpus', 'telemetry', GPU_A, '--api-url', api, '--limit', '4', '-o', 'json'])
    expect((JSON.parse(one.stdout) as { telemetry: unknown[] }).telemetry).toHaveLength(4)
    expect(one.stderr).toMatch(/more rows: add --all, or --cursor \S+/)
  })

  it('reports 404 and 400 answers in one line and exits non-zero', async () => {
    const missing = await tpipe(['gpus', 'telemetry', 'GPU-nope', '--api-url', api])
    expect(missing.exitCode).toBe(1)
    expect(missing.stderr.trim()).toBe('Error: apigw answered 404 TPIPE_ERR_GPU_NOT_FOUND: no telemetry for GPU GPU-nope')
    const bad = await tpipe(['gpus', 'telemetry', GPU_A, '--api-url', api, '--step', '1m', '--metric', 'x'.repeat(300)])
    expect(bad.exitCode).toBe(1)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect(bad.stderr).toMatch(/^Error: apigw answered 400 TPIPE_ERR_BAD_PARAMETER: metric/)
  })
})

describe('tpipe serve apigw', () => {
  it('serves the API from its own process (its own pool, /metrics) and exits 0 on SIGTERM', async () => {
    const probe = createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const port = (probe.address() as { port: number }).port
    await new Promise((r) => probe.close(r))
    const child = execa('node', ['bin/run.js', 'serve', 'apigw', '--port', String(port), '--host', '127.0.0.1', '--statement-timeout-ms', '1234'], {
      reject: false,
      env: { TPIPE_DATABASE_URL: db.url, NODE_ENV: 'production', TPIPE_LOG_LEVEL: 'warn' },
    })
    try {
      const base = `http://127.0.0.1:${port}`
      await expect.poll(async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status, { timeout: 30_000, interval: 200 }).toBe(200)
      const gpus = (await (await fetch(`${base}/api/v1/gpus`)).json()) as { gpus: { id: string }[] }
      expect(gpus.gpus.map((g) => g.id)).toEqual([GPU_B, GPU_A])
      const conns = await db.pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'tpipe-apigw' AND datname = current_database()")
      expect(conns.rows[0].n).toBeGreaterThan(0)
      expect(await (await fetch(`${base}/metrics`)).text()).toContain('apigw_request_duration_seconds_bucket{le="0.001",route="/api/v1/gpus",status="200"}')
    } finally {
      child.kill('SIGTERM')
    }
    expect((await child).exitCode).toBe(0)
  })
})

describe('tpipe openapi', () => {
  it('writes the same document as the committed docs/openapi.json, without a database', async () => {
    const out = join(dir, 'openapi.json')
    const r = await execa('node', ['bin/run.js', 'openapi', '--out', out], { reject: false, env: { TPIPE_DATABASE_URL: '', DATABASE_URL: '', NODE_ENV: 'production' } })
    expect(r.exitCode).toBe(0)
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(process.cwd(), 'docs', 'openapi.json'), 'utf8'))
  })

  it('says in one line why it cannot write --out (a missing directory, a directory), exit 1', async () => {
    const missing = join(dir, 'nosuch', 'x.json')
    const r = await execa('node', ['bin/run.js', 'openapi', '--out', missing], { reject: false, env: { NODE_ENV: 'production' } })
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([1, '', `Error: --out ${missing}: cannot write: the directory ${join(dir, 'nosuch')} does not exist (create it first)`])
    const isDir = await execa('node', ['bin/run.js', 'openapi', '--out', dir], { reject: false, env: { NODE_ENV: 'production' } })
    expect([isDir.exitCode, isDir.stderr]).toEqual([1, `Error: --out ${dir}: cannot write: it is a directory (give a file name, e.g. ${dir}/openapi.json)`])
  })
})
