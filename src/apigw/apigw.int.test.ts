// apigw, the gpus trigger and the seeder against a real PostgreSQL database seeded directly.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPool } from '../db/pool.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { startProxy, viaProxy } from '../../test/support/proxy.js'
import { buildApigw } from './app.js'
import { decodeCursor } from './cursor.js'
import { seedTelemetry } from '../../test/support/seed.js'
import { telemetryPage, telemetryPageJson } from './sql.js'

const silent = pino({ level: 'silent' })
const CONFIG = { logLevel: 'silent' as const, bodyLimitBytes: 1048576, metricsEnabled: false }

let db: TestDatabase
let app: FastifyInstance

interface Row {
  gpu_uuid: string
  ts: string
  metric_name?: string
  msg_uuid?: string
  hostname?: string
  gpu_id?: number
  value?: number
}

/** Inserts the way the collector does: one statement, ON CONFLICT (ts, msg_uuid) DO NOTHING. */
async function insert(rows: Row[], client: { query: TestDatabase['pool']['query'] } = db.pool): Promise<number> {
  const r = await client.query(
    `INSERT INTO telemetry (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts)
     SELECT msg_uuid, gpu_uuid, gpu_id, 'nvidia' || gpu_id, hostname, 'NVIDIA H100 80GB HBM3', metric_name, value, ts
     FROM json_to_recordset($1::json) AS r(msg_uuid uuid, gpu_uuid text, gpu_id smallint, hostname text, metric_name text, value float8, ts timestamptz)
     ON CONFLICT (ts, msg_uuid) DO NOTHING`,
    [JSON.stringify(rows.map((r) => ({ msg_uuid: r.msg_uuid ?? randomUUID(), hostname: 'host-a', gpu_id: 0, value: 1, metric_name: 'DCGM_FI_DEV_GPU_UTIL', ...r })))],
  )
  return r.rowCount ?? 0
}

async function get(url: string) {
  const res = await app.inject({ method: 'GET', url })
  return { status: res.statusCode, body: res.json() as Record<string, unknown> & { telemetry: { ts: string; msg_uuid: string; metric_name: string }[]; next_cursor: string | null; error: { code: string; message: string } } }
}

const GPU = 'GPU-11111111-2222-3333-4444-555555555555'
const T = ['2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', '2026-01-01T00:00:02Z', '2026-01-01T00:00:03Z']

beforeAll(async () => {
  db = await createTestDatabase()
  // 4 timestamps × 25 rows each (many equal timestamps), 2 metrics; plus rows that differ by microseconds.
  const rows: Row[] = []
  for (const ts of T) for (let i = 0; i < 25; i++) rows.push({ gpu_uuid: GPU, ts, metric_name: i % 2 ? 'DCGM_FI_DEV_GPU_TEMP' : 'DCGM_FI_DEV_GPU_UTIL', value: i })
  rows.push({ gpu_uuid: GPU, ts: '2026-01-01T00:00:04.000001Z' }, { gpu_uuid: GPU, ts: '2026-01-01T00:00:04.000002Z' }, { gpu_uuid: GPU, ts: '2026-01-01T00:00:04.000002Z' })
  await insert(rows)
  await insert([{ gpu_uuid: 'GPU-other', ts: T[0]!, hostname: 'host-b', gpu_id: 3 }])
  ;({ app } = await buildApigw(CONFIG, { pool: db.pool, logger: silent }))
})

afterAll(async () => {
  await app?.close()
  await db?.drop()
})

describe('gpus table trigger', () => {
  it('keeps one row per GPU with the newest attributes and the greatest last_seen', async () => {
    const g = `GPU-trigger-${randomUUID()}`
    await insert([
      { gpu_uuid: g, ts: '2026-02-01T00:00:05Z', hostname: 'new-host', gpu_id: 5 },
      { gpu_uuid: g, ts: '2026-02-01T00:00:01Z', hostname: 'old-host', gpu_id: 4 },
    ])
    await insert([{ gpu_uuid: g, ts: '2026-02-01T00:00:00Z', hostname: 'older-host', gpu_id: 1 }]) // late, older row
    const r = await db.pool.query('SELECT hostname, gpu_id, last_seen FROM gpus WHERE gpu_uuid = $1', [g])
    expect(r.rows).toEqual([{ hostname: 'new-host', gpu_id: 5, last_seen: new Date('2026-02-01T00:00:05Z') }])
  })

  it('sees only rows really inserted when ON CONFLICT (ts, msg_uuid) DO NOTHING skips duplicates', async () => {
    const msg = randomUUID()
    const g = `GPU-dup-${randomUUID()}`
    expect(await insert([{ gpu_uuid: g, ts: '2026-03-01T00:00:00Z', msg_uuid: msg }])).toBe(1)
    // The same message again (a redelivery carries the same payload, so the same ts: the conflict key of
    // the partitioned table is (ts, msg_uuid)), even claiming another GPU: nothing may change.
    const ghost = `GPU-ghost-${randomUUID()}`
    expect(await insert([{ gpu_uuid: ghost, ts: '2026-03-01T00:00:00Z', msg_uuid: msg }, { gpu_uuid: g, ts: '2026-03-01T00:00:00Z', msg_uuid: msg }])).toBe(0)
    const r = await db.pool.query('SELECT gpu_uuid, last_seen FROM gpus WHERE gpu_uuid IN ($1, $2)', [g, ghost])
    expect(r.rows).toEqual([{ gpu_uuid: g, last_seen: new Date('2026-03-01T00:00:00Z') }])
  })

  it('moves last_seen on only past 1 s, but writes changed attributes at once (migration 1764209700000)', async () => {
    const g = `GPU-coarse-${randomUUID()}`
    const seen = async () => (await db.pool.query('SELECT hostname, last_seen FROM gpus WHERE gpu_uuid = $1', [g])).rows[0]
    await insert([{ gpu_uuid: g, ts: '2026-02-02T00:00:00.000Z' }])
    await insert([{ gpu_uuid: g, ts: '2026-02-02T00:00:00.900Z' }]) // within 1 s, same attributes: left alone
    expect(await seen()).toEqual({ hostname: 'host-a', last_seen: new Date('2026-02-02T00:00:00.000Z') })
    await insert([{ gpu_uuid: g, ts: '2026-02-02T00:00:01.500Z' }]) // past 1 s: written
    expect(await seen()).toEqual({ hostname: 'host-a', last_seen: new Date('2026-02-02T00:00:01.500Z') })
    await insert([{ gpu_uuid: g, ts: '2026-02-02T00:00:01.600Z', hostname: 'moved' }]) // within 1 s, new host: written
    expect(await seen()).toEqual({ hostname: 'moved', last_seen: new Date('2026-02-02T00:00:01.600Z') })
    await insert([{ gpu_uuid: g, ts: '2026-02-02T00:00:00.000Z', hostname: 'older' }]) // an older sample never wins
    expect(await seen()).toEqual({ hostname: 'moved', last_seen: new Date('2026-02-02T00:00:01.600Z') })
  })

  it('does not wait on another transaction holding a GPU row when nothing about the GPU changes (no row lock)', async () => {
    const g = `GPU-nolock-${randomUUID()}`
    await insert([{ gpu_uuid: g, ts: '2026-02-03T00:00:00.000Z' }])
    const holder = await db.pool.connect()
    const writer = await db.pool.connect()
    try {
      await holder.query('BEGIN')
      await holder.query('SELECT 1 FROM gpus WHERE gpu_uuid = $1 FOR UPDATE', [g]) // another collector's statement, say
      await writer.query("SET statement_timeout = '2s'")
      // Before: ON CONFLICT DO UPDATE locked the row for every statement: this waited, then timed out.
      expect(await insert([{ gpu_uuid: g, ts: '2026-02-03T00:00:00.500Z' }], writer)).toBe(1)
    } finally {
      await holder.query('ROLLBACK')
      await writer.query('RESET statement_timeout')
      holder.release()
      writer.release()
    }
  })

  it('fires for an INSERT inside a data-modifying WITH, the collector\'s form', async () => {
    const g = `GPU-cte-${randomUUID()}`
    const r = await db.pool.query(
      `WITH t AS (
         INSERT INTO telemetry (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts)
         VALUES ($1, $2, 2, 'nvidia2', 'host-cte', 'm', 'DCGM_FI_DEV_GPU_UTIL', 1, '2026-04-02T00:00:00Z')
         ON CONFLICT (ts, msg_uuid) DO NOTHING RETURNING 1)
       SELECT count(*)::int AS n FROM t`,
      [randomUUID(), g],
    )
    expect(r.rows[0].n).toBe(1)
    const row = await db.pool.query('SELECT hostname, gpu_id FROM gpus WHERE gpu_uuid = $1', [g])
    expect(row.rows).toEqual([{ hostname: 'host-cte', gpu_id: 2 }])
  })

  // The collector writes one INSERT per transaction; the trigger then locks gpus rows in gpu_uuid order.
  it('lets concurrent one-statement batches over the same GPUs, given in opposite orders, all commit (no deadlock)', async () => {
    const gpus = Array.from({ length: 40 }, (_, i) => `GPU-conc-${String(i).padStart(2, '0')}`)
    const pool = createPool(db.url, { max: 8 })
    try {
      for (let round = 0; round < 5; round++) {
        const ts = new Date(Date.UTC(2026, 3, 1, 0, 0, round)).toISOString()
        await Promise.all(
          [0, 1, 2, 3].map(async (k) => {
            const client = await pool.connect()
            try {
              await client.query('BEGIN')
              const order = k % 2 ? [...gpus].reverse() : gpus
              await insert(order.map((gpu_uuid) => ({ gpu_uuid, ts })), client)
              await client.query('SELECT pg_sleep(0.05)') // hold the row locks so the batches overlap
              await client.query('COMMIT')
            } finally {
              client.release()
            }
          }),
        )
      }
      const n = await db.pool.query("SELECT count(*)::int AS n FROM gpus WHERE gpu_uuid LIKE 'GPU-conc-%'")
      expect(n.rows[0].n).toBe(40)
    } finally {
      await pool.end()
    }
  })
})

describe('GET /api/v1/gpus', () => {
  it('lists every GPU with its attributes', async () => {
    const { status, body } = await get('/api/v1/gpus')
    expect(status).toBe(200)
    const gpus = body.gpus as Record<string, unknown>[]
    expect(gpus.find((g) => g.id === GPU)).toEqual({ id: GPU, hostname: 'host-a', gpu_id: 0, device: 'nvidia0', model_name: 'NVIDIA H100 80GB HBM3', last_seen: '2026-01-01T00:00:04.000002Z' })
    expect(gpus.find((g) => g.id === 'GPU-other')).toMatchObject({ hostname: 'host-b', gpu_id: 3 })
  })
})

describe('GET /api/v1/gpus/{id}/telemetry', () => {
  it('returns every row in (ts, msg_uuid) order with inclusive bounds', async () => {
    const all = await get(`/api/v1/gpus/${GPU}/telemetry`)
    expect(all.status).toBe(200)
    expect(all.body.telemetry).toHaveLength(103)
    expect(all.body.next_cursor).toBeNull()
    const keys = all.body.telemetry.map((r) => `${r.ts} ${r.msg_uuid}`)
    expect(keys).toEqual([...keys].sort())

    const w = await get(`/api/v1/gpus/${GPU}/telemetry?start_time=${T[1]}&end_time=${T[2]}`)
    expect(w.body.telemetry).toHaveLength(50)
    expect(new Set(w.body.telemetry.map((r) => r.ts))).toEqual(new Set(['2026-01-01T00:00:01.000000Z', '2026-01-01T00:00:02.000000Z']))

    const point = await get(`/api/v1/gpus/${GPU}/telemetry?start_time=2026-01-01T00:00:04.000002Z&end_time=2026-01-01T00:00:04.000002Z`)
    expect(point.body.telemetry).toHaveLength(2)
    const offset = await get(`/api/v1/gpus/${GPU}/telemetry?start_time=2026-01-01T01:00:01%2B01:00&end_time=2026-01-01T01:00:01%2B01:00`)
    expect(offset.body.telemetry).toHaveLength(25)
  })

  it('filters by one or several metrics', async () => {
    const one = await get(`/api/v1/gpus/${GPU}/telemetry?metric=DCGM_FI_DEV_GPU_TEMP`)
    expect(one.body.telemetry).toHaveLength(48)
    expect(new Set(one.body.telemetry.map((r) => r.metric_name))).toEqual(new Set(['DCGM_FI_DEV_GPU_TEMP']))
    const two = await get(`/api/v1/gpus/${GPU}/telemetry?metric=DCGM_FI_DEV_GPU_TEMP&metric=DCGM_FI_DEV_GPU_UTIL`)
    expect(two.body.telemetry).toHaveLength(103)
    const none = await get(`/api/v1/gpus/${GPU}/telemetry?metric=NOPE`)
    expect(none.status).toBe(200)
    expect(none.body.telemetry).toEqual([])
  })

  it('returns ts, metric_name, value and msg_uuid, and container, pod, namespace and labels only with detail=true', async () => {
    const slim = await get(`/api/v1/gpus/${GPU}/telemetry?limit=1`)
    expect(Object.keys(slim.body.telemetry[0]!).sort()).toEqual(['metric_name', 'msg_uuid', 'ts', 'value'])
    const g = `GPU-detail-${randomUUID()}`
    await db.pool.query(
      `INSERT INTO telemetry (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts, container, pod, namespace, labels)
       VALUES ($1, $2, 1, 'nvidia1', 'h', 'm', 'DCGM_FI_DEV_GPU_TEMP', 42.5, '2026-01-02T00:00:00Z', 'trainer', 'pod-1', 'ml', '{"job":"dcgm"}')`,
      [randomUUID(), g],
    )
    const full = await get(`/api/v1/gpus/${g}/telemetry?detail=true`)
    expect(full.body.telemetry[0]).toMatchObject({ ts: '2026-01-02T00:00:00.000000Z', metric_name: 'DCGM_FI_DEV_GPU_TEMP', value: 42.5, container: 'trainer', pod: 'pod-1', namespace: 'ml', labels: { job: 'dcgm' } })
  })

  it('pages across equal timestamps and microseconds, returning every row exactly once', async () => {
    for (const limit of [1, 7, 25, 50, 102, 103]) {
      const seen: string[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const r = await get(`/api/v1/gpus/${GPU}/telemetry?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`)
        expect(r.status).toBe(200)
        expect(r.body.telemetry.length).toBeLessThanOrEqual(limit)
        seen.push(...r.body.telemetry.map((x) => x.msg_uuid))
        cursor = r.body.next_cursor
        pages++
      } while (cursor)
      expect(seen).toHaveLength(103)
      expect(new Set(seen).size).toBe(103)
      expect(pages).toBe(Math.ceil(103 / limit))
    }
  })

  it('pages with a metric filter and a window together', async () => {
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const r = await get(`/api/v1/gpus/${GPU}/telemetry?metric=DCGM_FI_DEV_GPU_UTIL&start_time=${T[1]}&end_time=${T[3]}&limit=4${cursor ? `&cursor=${cursor}` : ''}`)
      seen.push(...r.body.telemetry.map((x) => x.msg_uuid))
      cursor = r.body.next_cursor
    } while (cursor)
    expect(new Set(seen).size).toBe(39)
  })

  it('pages newest first with order=desc: every row once, in descending (ts, msg_uuid); the cursor keeps the order', async () => {
    const asc: string[] = []
    for (let cursor: string | null = null, first = true; first || cursor; first = false) {
      const r = await get(`/api/v1/gpus/${GPU}/telemetry?limit=1000${cursor ? `&cursor=${cursor}` : ''}`)
      asc.push(...r.body.telemetry.map((x) => `${x.ts} ${x.msg_uuid}`))
      cursor = r.body.next_cursor
    }
    const desc: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      // Only the first request says order=desc: the cursor carries it.
      const r = await get(`/api/v1/gpus/${GPU}/telemetry?limit=10${cursor ? `&cursor=${cursor}` : '&order=desc'}`)
      expect(r.status).toBe(200)
      desc.push(...r.body.telemetry.map((x) => `${x.ts} ${x.msg_uuid}`))
      cursor = r.body.next_cursor
      pages++
    } while (cursor)
    expect(pages).toBe(11)
    expect(desc).toEqual([...asc].reverse())
    const first = await get(`/api/v1/gpus/${GPU}/telemetry?limit=10&order=desc`)
    const mismatch = await get(`/api/v1/gpus/${GPU}/telemetry?limit=10&order=asc&cursor=${first.body.next_cursor}`)
    expect(mismatch.status).toBe(400)
    expect(mismatch.body.error.message).toBe('order: this cursor continues a page in desc order (omit order, or pass the same)')
    const stepped = await get(`/api/v1/gpus/${GPU}/telemetry?step=1m&order=desc`)
    expect([stepped.status, stepped.body.error.message]).toEqual([400, 'order: only without step (raw pages)'])
  })

  it('answers 400 naming an unknown query parameter on every /api/v1 route (one rule: never silently ignored)', async () => {
    for (const url of [`/api/v1/gpus?limit=2&colour=blue`, `/api/v1/gpus/${GPU}/telemetry?colour=blue`, `/api/v1/telemetry?metric=DCGM_FI_DEV_GPU_UTIL&colour=blue`]) {
      const r = await get(url)
      expect(r.status, url).toBe(400)
      expect(r.body.error).toEqual({ code: 'TPIPE_ERR_BAD_PARAMETER', message: 'colour: must NOT have additional properties' })
    }
  })

  it.each([
    ['start_time=yesterday', 'start_time'],
    ['end_time=2026-13-01T00:00:00Z', 'end_time'],
    ['end_time=2025-02-30T00:00:00Z', 'end_time'],
    ['start_time=9999999-01-01T00:00:00Z', 'start_time'],
    ['start_time=2026-01-01T00:00:00', 'start_time'],
    [`start_time=${T[2]}&end_time=${T[1]}`, 'start_time'],
    ['limit=0', 'limit'],
    ['limit=10001', 'limit'],
    ['limit=ten', 'limit'],
    ['cursor=not-a-cursor', 'cursor'],
    [`cursor=${Buffer.from('["x","y"]').toString('base64url')}`, 'cursor'],
    ['colour=blue', 'colour'],
    ['detail=maybe', 'detail'],
  ])('answers 400 naming the parameter for %s', async (qs, name) => {
    const r = await get(`/api/v1/gpus/${GPU}/telemetry?${qs}`)
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('TPIPE_ERR_BAD_PARAMETER')
    expect(r.body.error.message).toContain(name)
    expect(Object.keys(r.body)).toEqual(['error'])
  })

  it('answers 404 for an unknown GPU', async () => {
    const r = await get('/api/v1/gpus/GPU-nope/telemetry')
    expect(r.status).toBe(404)
    expect(r.body).toEqual({ error: { code: 'TPIPE_ERR_GPU_NOT_FOUND', message: 'no telemetry for GPU GPU-nope' } })
    // A known GPU with nothing in the window is not a 404.
    const empty = await get(`/api/v1/gpus/${GPU}/telemetry?start_time=2030-01-01T00:00:00Z`)
    expect(empty.status).toBe(200)
    expect(empty.body.telemetry).toEqual([])
  })

  it('serves the OpenAPI document and Swagger UI', async () => {
    const spec = await get('/openapi.json')
    expect(spec.status).toBe(200)
    expect(Object.keys(spec.body.paths as object)).toEqual(['/api/v1/gpus', '/api/v1/gpus/{id}/telemetry', '/api/v1/telemetry'])
    const ui = await app.inject({ method: 'GET', url: '/swagger/' })
    expect(ui.statusCode).toBe(200)
    expect(ui.body).toContain('swagger')
  })

  it('answers 503 with Retry-After when the database is unreachable, and recovers', async () => {
    const u = new URL(db.url)
    const proxy = await startProxy(u.hostname, Number(u.port))
    const pool = createPool(viaProxy(db.url, proxy.port), { max: 2, connectionTimeoutMs: 2000 })
    pool.on('error', () => {})
    const { app: a } = await buildApigw(CONFIG, { pool, logger: silent })
    try {
      expect((await a.inject(`/api/v1/gpus/${GPU}/telemetry?limit=1`)).statusCode).toBe(200)
      await proxy.cut()
      const down = await a.inject(`/api/v1/gpus/${GPU}/telemetry?limit=1`)
      expect(down.statusCode).toBe(503)
      expect(down.headers['retry-after']).toBe('1')
      expect(down.json().error.code).toBe('TPIPE_ERR_DB_UNAVAILABLE')
      expect((await a.inject('/readyz')).statusCode).toBe(503)
      await proxy.restore()
      await expect.poll(async () => (await a.inject('/api/v1/gpus')).statusCode, { timeout: 20_000 }).toBe(200)
    } finally {
      await a.close()
      await pool.end()
      await proxy.close()
    }
  })
})

describe('seedTelemetry and the query plan', () => {
  it('bulk-inserts telemetry, fills gpus, and pages through an index range scan', async () => {
    const seeded = await createTestDatabase()
    try {
      const start = new Date('2026-05-01T00:00:00Z')
      const r = await seedTelemetry(seeded.pool, { rows: 49_400, gpus: 247, start, stepMs: 1000, chunk: 20_000 })
      expect(r.gpuUuids).toHaveLength(247)
      const counts = await seeded.pool.query('SELECT (SELECT count(*)::int FROM telemetry) AS t, (SELECT count(*)::int FROM gpus) AS g, (SELECT count(DISTINCT msg_uuid)::int FROM telemetry) AS u')
      expect(counts.rows[0]).toEqual({ t: 49_400, g: 247, u: 49_400 })
      const one = await seeded.pool.query('SELECT count(*)::int AS n, count(DISTINCT metric_name)::int AS m, max(ts) AS last FROM telemetry WHERE gpu_uuid = $1', [r.gpuUuids[0]])
      expect(one.rows[0]).toEqual({ n: 200, m: 10, last: new Date(start.getTime() + 19_000) })
      const lastSeen = await seeded.pool.query('SELECT last_seen FROM gpus WHERE gpu_uuid = $1', [r.gpuUuids[0]])
      expect(lastSeen.rows[0].last_seen).toEqual(new Date(start.getTime() + 19_000))

      // Give 5 GPUs a long history (10,200 rows each). A page of 1000 out of a window of ~3600 rows is an
      // ordered index-only range scan on (gpu_uuid, ts, msg_uuid) INCLUDE (metric_name, value): no sort,
      // no heap. With a cursor the keyset is part of the index condition, so deep pages cost no more. When
      // the planner expects about as few rows as the limit (a metric filter, a cursor near the end) it may
      // rightly prefer a bitmap scan of the same range. detail=true needs the heap: a plain index scan.
      // The day's partition exists (maintenance creates it ahead of time): each page reads its index.
      await seeded.pool.query("SELECT tpipe_ensure_partition('telemetry', 'ts', '2026-05-01T00:00:00Z', '2026-05-02T00:00:00Z')")
      await seedTelemetry(seeded.pool, { rows: 50_000, gpus: 5, start, stepMs: 1000 })
      const explain = async (p: Omit<Parameters<typeof telemetryPage>[0], 'id' | 'start' | 'end' | 'limit'>) => {
        const q = telemetryPage({ id: r.gpuUuids[3]!, start: '2026-05-01T00:00:00Z', end: '2026-05-01T01:00:00Z', limit: 1000, ...p })
        const plan = await seeded.pool.query({ text: `EXPLAIN (ANALYZE, COSTS OFF) ${q.text}`, values: q.values })
        return plan.rows.map((x: { 'QUERY PLAN': string }) => x['QUERY PLAN']).join('\n')
      }
      const first = await explain({ metrics: [] })
      expect(first).toMatch(/^Limit.*\n\s+->\s+Index Only Scan using telemetry_p20260501_gpu_uuid_ts_\w*idx/)
      expect(first).toMatch(/Heap Fetches: 0/)
      expect(first).not.toMatch(/Sort|Bitmap/)
      // The page as the API reads it (its JSON text built in PostgreSQL): the same scan under one aggregate.
      const q = telemetryPageJson({ id: r.gpuUuids[3]!, start: '2026-05-01T00:00:00Z', end: '2026-05-01T01:00:00Z', limit: 1000, metrics: [] })
      const json = (await seeded.pool.query({ text: `EXPLAIN (ANALYZE, COSTS OFF) ${q.text}`, values: q.values })).rows.map((x: { 'QUERY PLAN': string }) => x['QUERY PLAN']).join('\n')
      expect(json).toMatch(/^Aggregate.*\n\s+->\s+Limit[^\n]*\n[\s\S]*Index Only Scan using telemetry_p20260501_gpu_uuid_ts_\w*idx/)
      expect(json).toMatch(/Heap Fetches: 0/)
      expect(json).not.toMatch(/Sort|Bitmap/)
      // By time (rows sharing times): the scan's order groups them, and orders the groups, without a sort.
      const t = telemetryPageJson({ id: r.gpuUuids[3]!, start: '2026-05-01T00:00:00Z', end: '2026-05-01T01:00:00Z', limit: 1000, metrics: [] }, true)
      const byTime = (await seeded.pool.query({ text: `EXPLAIN (ANALYZE, COSTS OFF) ${t.text}`, values: t.values })).rows.map((x: { 'QUERY PLAN': string }) => x['QUERY PLAN']).join('\n')
      expect(byTime).toMatch(/^Aggregate.*\n\s+->\s+GroupAggregate[^\n]*\n[\s\S]*Limit[^\n]*\n[\s\S]*Index Only Scan using telemetry_p20260501_gpu_uuid_ts_\w*idx/)
      expect(byTime).not.toMatch(/Sort|Bitmap|HashAggregate/)
      const deep = await explain({ metrics: [], after: { ts: '2026-05-01T00:10:00.5Z', msgUuid: 'ffffffff-0000-0000-0000-000000000000' } })
      expect(deep).toMatch(/Index Cond: .*ROW\(ts, msg_uuid\) >/)
      expect(deep).toMatch(/Index Only Scan|Bitmap Index Scan on telemetry_p20260501_gpu_uuid_ts_\w*idx/)
      const filtered = await explain({ metrics: ['DCGM_FI_DEV_GPU_UTIL'], after: { ts: '2026-05-01T00:00:03Z', msgUuid: '00000000-0000-0000-0000-000000000000' } })
      expect(filtered).toMatch(/Index Cond: .*ROW\(ts, msg_uuid\) >/)
      expect(filtered).not.toMatch(/Seq Scan/)
      const detail = await explain({ metrics: [], detail: true })
      // (A Result node computes the labels: the row's own, or its series' from telemetry_series by primary key.)
      expect(detail).toMatch(/^Limit.*\n\s+->\s+(Result.*\n\s+->\s+)?Index Scan using telemetry_p20260501_gpu_uuid_ts_\w*idx/)
      expect(detail).not.toMatch(/Sort|Seq Scan/)

      const { app: a } = await buildApigw(CONFIG, { pool: seeded.pool, logger: silent })
      const page = await a.inject(`/api/v1/gpus/${r.gpuUuids[5]}/telemetry?limit=15`)
      expect(page.json().telemetry).toHaveLength(15)
      expect(decodeCursor(page.json().next_cursor)).toBeDefined()
      await a.close()
    } finally {
      await seeded.drop()
    }
  })
})
