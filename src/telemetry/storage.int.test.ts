// Partitioned telemetry against a real PostgreSQL: the migration of a table with rows, dedup across
// redelivery, late and future samples, retention, and the derived tables (latest values, rollups)
// checked against what the raw rows say.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate, migrationFiles } from '../db/migrate.js'
import { persistBatch, type TelemetryRowJson } from '../collector/sql.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { deriveOnce } from './derive.js'
import { maintain, type MaintainOptions } from './maintain.js'
import { gpuSeries } from '../apigw/sql.js'

const DAY = 86_400_000
const PARTITIONING = migrationFiles().findIndex((f) => f.startsWith('1764202000000'))

function row(gpu: string, metric: string, value: number, ts: string, over: Partial<TelemetryRowJson> = {}): TelemetryRowJson {
  return {
    msg_uuid: randomUUID(),
    gpu_uuid: gpu,
    gpu_id: 0,
    device: 'nvidia0',
    hostname: `host-${gpu}`,
    model_name: 'NVIDIA H100 80GB HBM3',
    metric_name: metric,
    value,
    ts,
    ...over,
  }
}

/** The derive job's run, without waiting for minutes to be quiet. */
async function derive(db: TestDatabase) {
  return deriveOnce(db.pool, { quietSeconds: 0 })
}

async function partitions(db: TestDatabase, table: string): Promise<string[]> {
  const r = await db.pool.query<{ relname: string }>(
    'SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1',
    [table],
  )
  return r.rows.map((x) => x.relname)
}

async function insert(db: TestDatabase, rows: TelemetryRowJson[]): Promise<{ inserted: number; unpartitioned: number }> {
  const r = await db.pool.query<{ inserted: number; unpartitioned: number }>(persistBatch(rows.map((x) => JSON.stringify(x)), []))
  return r.rows[0]!
}

const maintainOpts = (now: number, over: Partial<MaintainOptions> = {}): MaintainOptions => ({
  partitionMs: DAY,
  retentionMs: 7 * DAY,
  rollupRetentionMs: 90 * DAY,
  now,
  ...over,
})

async function runMaintain(db: TestDatabase, opts: MaintainOptions) {
  const c = await db.pool.connect()
  try {
    return await maintain(c, opts)
  } finally {
    c.release()
  }
}

describe('migration to the partitioned table', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false })
  })
  afterAll(async () => {
    await db.drop()
  })

  it('keeps every row of an existing table, fills gpus, latest and rollups, and goes down again', async () => {
    await migrate(db.url, 'up', { count: PARTITIONING })
    // Three days of rows, two GPUs, two metrics, plus one row in 2019.
    const rows: TelemetryRowJson[] = []
    for (let i = 0; i < 600; i++) {
      const ts = new Date(Date.parse('2025-07-16T22:00:00Z') + i * 397_000).toISOString()
      rows.push(row(`GPU-m${i % 2}`, i % 3 ? 'DCGM_FI_DEV_GPU_UTIL' : 'DCGM_FI_DEV_POWER_USAGE', (i * 7.25) % 101, ts))
    }
    rows.push(row('GPU-m0', 'DCGM_FI_DEV_GPU_UTIL', 42, '2019-03-01T12:00:00.123456Z'))
    await db.pool.query({
      text: `INSERT INTO telemetry (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts)
             SELECT msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts
             FROM json_to_recordset($1::json) AS r(msg_uuid uuid, gpu_uuid text, gpu_id smallint, device text, hostname text,
                                                   model_name text, metric_name text, value double precision, ts timestamptz)`,
      values: [JSON.stringify(rows)],
    })
    const before = await db.pool.query('SELECT msg_uuid::text, ts, value FROM telemetry ORDER BY msg_uuid')
    const gpusBefore = await db.pool.query('SELECT * FROM gpus ORDER BY gpu_uuid')

    await migrate(db.url, 'up')
    const after = await db.pool.query('SELECT msg_uuid::text, ts, value FROM telemetry ORDER BY msg_uuid')
    expect(after.rows).toEqual(before.rows)
    expect((await db.pool.query('SELECT * FROM gpus ORDER BY gpu_uuid')).rows).toEqual(gpusBefore.rows)
    const parts = await partitions(db, 'telemetry')
    expect(parts).toEqual(expect.arrayContaining(['telemetry_default', 'telemetry_p20190301', 'telemetry_p20250716', 'telemetry_p20250717', 'telemetry_p20250718', 'telemetry_p20250719']))
    // Every row sits in the partition of its day, none in the default one.
    expect((await db.pool.query('SELECT count(*)::int AS n FROM telemetry_default')).rows[0].n).toBe(0)
    expect((await db.pool.query("SELECT count(*)::int AS n FROM telemetry_p20250717")).rows[0].n).toBe(rows.filter((r) => String(r.ts).startsWith('2025-07-17')).length)
    // Derived tables built from the migrated rows.
    await expectDerivedTablesMatchRaw(db)

    // A redelivery of a migrated message is still a no-op.
    expect((await insert(db, [rows[10]!])).inserted).toBe(0)

    // And down again (with the migrations after it): every row back in the unpartitioned table.
    await migrate(db.url, 'down', { count: migrationFiles().length - PARTITIONING })
    const down = await db.pool.query('SELECT msg_uuid::text, ts, value FROM telemetry ORDER BY msg_uuid')
    expect(down.rows).toEqual(before.rows)
    expect((await db.pool.query("SELECT to_regclass('telemetry_1m') AS t")).rows[0].t).toBeNull()
    await migrate(db.url, 'up')
  })
})

/** telemetry_latest = newest raw row by (ts, msg_uuid); telemetry_1m = aggregates of the raw rows per minute. */
async function expectDerivedTablesMatchRaw(db: TestDatabase): Promise<void> {
  await derive(db)
  const raw = await db.pool.query<{ gpu_uuid: string; metric_name: string; value: number; ts: Date; msg_uuid: string }>(
    'SELECT gpu_uuid, metric_name, value, ts, msg_uuid::text FROM telemetry',
  )
  const newest = new Map<string, (typeof raw.rows)[number]>()
  const minutes = new Map<string, { count: number; sum: number; min: number; max: number; last: number; lastKey: string }>()
  const key = (r: { ts: Date; msg_uuid: string }) => `${r.ts.toISOString()}|${r.msg_uuid}`
  for (const r of raw.rows) {
    const k = `${r.gpu_uuid}|${r.metric_name}`
    const cur = newest.get(k)
    if (!cur || key(r) > key(cur)) newest.set(k, r)
    const mk = `${k}|${Math.floor(r.ts.getTime() / 60_000) * 60}`
    const m = minutes.get(mk)
    if (!m) minutes.set(mk, { count: 1, sum: r.value, min: r.value, max: r.value, last: r.value, lastKey: key(r) })
    else {
      m.count++
      m.sum += r.value
      m.min = Math.min(m.min, r.value)
      m.max = Math.max(m.max, r.value)
      if (key(r) > m.lastKey) {
        m.last = r.value
        m.lastKey = key(r)
      }
    }
  }
  const latest = await db.pool.query<{ gpu_uuid: string; metric_name: string; value: number; ts: Date; msg_uuid: string }>(
    'SELECT gpu_uuid, metric_name, value, ts, msg_uuid::text FROM telemetry_latest',
  )
  expect(latest.rows.length).toBe(newest.size)
  for (const l of latest.rows) {
    const n = newest.get(`${l.gpu_uuid}|${l.metric_name}`)!
    expect({ value: l.value, ts: l.ts, msg: l.msg_uuid }).toEqual({ value: n.value, ts: n.ts, msg: n.msg_uuid })
  }
  const rollups = await db.pool.query<{ gpu_uuid: string; metric_name: string; b: string; count: string; sum: number; min: number; max: number; last: number }>(
    'SELECT gpu_uuid, metric_name, extract(epoch FROM bucket)::bigint AS b, count, sum, min, max, last FROM telemetry_1m',
  )
  expect(rollups.rows.length).toBe(minutes.size)
  for (const r of rollups.rows) {
    const m = minutes.get(`${r.gpu_uuid}|${r.metric_name}|${r.b}`)
    expect(m, `minute ${r.gpu_uuid} ${r.metric_name} ${r.b}`).toBeDefined()
    expect(Number(r.count)).toBe(m!.count)
    expect(r.sum).toBeCloseTo(m!.sum, 6)
    expect([r.min, r.max, r.last]).toEqual([m!.min, m!.max, m!.last])
  }
}

describe('partitioned telemetry', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db.drop()
  })

  it('a redelivered batch inserts nothing and counts nothing twice (conflict target (ts, msg_uuid))', async () => {
    const now = Date.now()
    const batch = Array.from({ length: 50 }, (_, i) => row(`GPU-d${i % 5}`, 'DCGM_FI_DEV_GPU_UTIL', i, new Date(now - i * 1000).toISOString()))
    expect((await insert(db, batch)).inserted).toBe(50)
    // The same messages again, as a redelivery carries them (same payload, same ts), in another order.
    expect((await insert(db, [...batch].reverse())).inserted).toBe(0)
    expect((await insert(db, batch.slice(0, 10))).inserted).toBe(0)
    const n = await db.pool.query("SELECT count(*)::int AS n FROM telemetry WHERE gpu_uuid LIKE 'GPU-d%'")
    expect(n.rows[0].n).toBe(50)
    await derive(db)
    const rolled = await db.pool.query("SELECT sum(count)::int AS n FROM telemetry_1m WHERE gpu_uuid LIKE 'GPU-d%'")
    expect(rolled.rows[0].n).toBe(50)
    await expectDerivedTablesMatchRaw(db)
  })

  it('late and far-future samples are kept (default partition, counted), then moved into their partition by maintenance', async () => {
    const now = Date.now()
    const late = row('GPU-late', 'DCGM_FI_DEV_GPU_UTIL', 1, new Date(now - 3 * DAY).toISOString())
    const future = row('GPU-late', 'DCGM_FI_DEV_GPU_UTIL', 2, new Date(now + 30 * DAY).toISOString())
    const current = row('GPU-late', 'DCGM_FI_DEV_GPU_UTIL', 3, new Date(now).toISOString())
    const r = await insert(db, [late, future, current])
    expect(r).toEqual({ inserted: 3, dead: 0, unpartitioned: 2 })
    expect((await db.pool.query('SELECT count(*)::int AS n FROM telemetry_default')).rows[0].n).toBe(2)

    const result = await runMaintain(db, maintainOpts(now))
    expect(result.ran).toBe(true)
    const lateDay = `telemetry_p${new Date(now - 3 * DAY).toISOString().slice(0, 10).replace(/-/g, '')}`
    expect(result.created.map((p) => p.name)).toContain(lateDay)
    // The late row moved to its new partition; the far-future one waits in the default partition.
    const where = await db.pool.query<{ part: string; value: number }>(
      "SELECT tableoid::regclass::text AS part, value FROM telemetry WHERE gpu_uuid = 'GPU-late' ORDER BY value",
    )
    expect(where.rows.map((x) => x.part)).toEqual([lateDay, 'telemetry_default', expect.stringMatching(/^telemetry_p\d{8}$/)])
    expect(result.defaultRows.telemetry).toBe(1)
    // Moving rows did not count them again in the rollups.
    await expectDerivedTablesMatchRaw(db)
    // A second pass has nothing to do.
    const again = await runMaintain(db, maintainOpts(now))
    expect(again.created).toEqual([])
    expect(again.dropped).toEqual([])
  })

  it('retention drops exactly the partitions past the horizon, and the dry run only reports', async () => {
    const now = Date.parse('2026-06-15T12:00:00Z') // fixed: partitions named by known days
    const days = [-10, -9, -8, -7, -6, -1, 0]
    for (const d of days) {
      await insert(db, [row('GPU-ret', 'DCGM_FI_DEV_GPU_UTIL', d, new Date(now + d * DAY).toISOString())])
    }
    await derive(db) // what the collector does within seconds of ingest
    // All went to the default partition (no partitions for June 2026 yet): maintenance with a long
    // retention creates their partitions.
    await runMaintain(db, maintainOpts(now, { retentionMs: 30 * DAY }))
    const name = (d: number) => `telemetry_p${new Date(now + d * DAY).toISOString().slice(0, 10).replace(/-/g, '')}`
    expect(await partitions(db, 'telemetry')).toEqual(expect.arrayContaining(days.map(name)))

    // Retention 7 days from 2026-06-15T12:00Z: the horizon is 2026-06-08T12:00Z. The partition of June 8
    // ends after the horizon and stays; June 5, 6 and 7 go.
    const dry = await runMaintain(db, maintainOpts(now, { retentionMs: 7 * DAY, dryRun: true }))
    const expectDropped = [name(-10), name(-9), name(-8)]
    expect(dry.dropped.filter((p) => p.table === 'telemetry').map((p) => p.name).sort()).toEqual(expect.arrayContaining(expectDropped))
    expect(await partitions(db, 'telemetry')).toEqual(expect.arrayContaining(expectDropped)) // nothing changed

    const real = await runMaintain(db, maintainOpts(now, { retentionMs: 7 * DAY }))
    const dropped = real.dropped.filter((p) => p.table === 'telemetry').map((p) => p.name!)
    expect(dropped.sort()).toEqual(dry.dropped.filter((p) => p.table === 'telemetry').map((p) => p.name).sort())
    const left = await partitions(db, 'telemetry')
    for (const n of expectDropped) expect(left).not.toContain(n)
    for (const d of [-7, -6, -1, 0]) expect(left).toContain(name(d))
    const values = await db.pool.query<{ value: number }>("SELECT value FROM telemetry WHERE gpu_uuid = 'GPU-ret' ORDER BY value")
    expect(values.rows.map((r) => r.value)).toEqual([-7, -6, -1, 0])
    // Rollups have their own, longer retention: the dropped days' minutes are still there.
    const rolled = await db.pool.query<{ n: number }>("SELECT sum(count)::int AS n FROM telemetry_1m WHERE gpu_uuid = 'GPU-ret'")
    expect(rolled.rows[0]!.n).toBe(days.length)
  })

  it('one maintenance pass at a time: a second process skips while the lock is held', async () => {
    const holder = await db.pool.connect()
    try {
      await holder.query('SELECT pg_advisory_lock(7466272736913)')
      const r = await runMaintain(db, maintainOpts(Date.now()))
      expect(r.ran).toBe(false)
      expect(r.created).toEqual([])
    } finally {
      await holder.query('SELECT pg_advisory_unlock(7466272736913)')
      holder.release()
    }
  })
})

describe('the derive job (latest values and rollups)', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db.drop()
  })

  it('updates latest at once, rollups of a minute once it is quiet; a redelivery marks nothing', async () => {
    const t = Date.now() - 120_000
    const first = [row('GPU-j', 'DCGM_FI_DEV_GPU_UTIL', 1, new Date(t).toISOString()), row('GPU-j', 'DCGM_FI_DEV_GPU_UTIL', 2, new Date(t + 1000).toISOString())]
    await insert(db, first)
    const marks = await db.pool.query('SELECT (SELECT count(*) FROM telemetry_latest_log)::int AS l, (SELECT count(*) FROM telemetry_dirty_rollups)::int AS r')
    expect(marks.rows[0]).toEqual({ l: 1, r: 1 }) // latest: one log row per batch and series; rollups: one mark per batch and minute; not per row
    // The default run: latest now, the rollup only when the minute has been quiet for 5 s.
    const r1 = await deriveOnce(db.pool)
    expect(r1).toEqual({ ran: true, latest: 1, rollups: 0 })
    expect((await db.pool.query("SELECT value FROM telemetry_latest WHERE gpu_uuid = 'GPU-j'")).rows).toEqual([{ value: 2 }])
    await db.pool.query("UPDATE telemetry_dirty_rollups SET marked_at = now() - interval '6 seconds'")
    const r2 = await deriveOnce(db.pool)
    expect(r2).toEqual({ ran: true, latest: 0, rollups: 1 })
    // A redelivery inserts nothing and marks nothing; an older sample does not replace latest.
    await insert(db, first)
    expect((await db.pool.query('SELECT count(*)::int AS n FROM telemetry_latest_log')).rows[0].n).toBe(0)
    await insert(db, [row('GPU-j', 'DCGM_FI_DEV_GPU_UTIL', 0.5, new Date(t - 500).toISOString())])
    expect(await deriveOnce(db.pool, { quietSeconds: 0 })).toEqual({ ran: true, latest: 0, rollups: 1 })
    expect((await db.pool.query("SELECT value FROM telemetry_latest WHERE gpu_uuid = 'GPU-j'")).rows).toEqual([{ value: 2 }])
    const minute = await db.pool.query("SELECT count, sum, min, max, last FROM telemetry_1m WHERE gpu_uuid = 'GPU-j' ORDER BY bucket")
    expect(minute.rows.reduce((s: number, x: { count: string }) => s + Number(x.count), 0)).toBe(3)
    await expectDerivedTablesMatchRaw(db)
  })

  it('a bucketed query on the rollups is an index-only scan for every aggregate (the key carries the rollup columns)', async () => {
    // 30 days of one GPU are 43,200 rollup rows, one per heap page (the job writes a minute for every GPU
    // at once): only a covering key keeps that query off the heap (1.3–1.6 s → index-only on the 50M bench).
    const t = Date.now() - 3_600_000
    await insert(db, Array.from({ length: 30 }, (_, i) => row('GPU-io', 'DCGM_FI_DEV_GPU_TEMP', i, new Date(t + i * 60_000).toISOString())))
    await derive(db)
    await db.pool.query('VACUUM (ANALYZE) telemetry_1m')
    const c = await db.pool.connect()
    try {
      // The test table is tiny: rule out the scans a planner prefers there, so the plan says what the index can do.
      await c.query('SET enable_seqscan = off')
      await c.query('SET enable_bitmapscan = off')
      for (const agg of ['avg', 'min', 'max', 'count', 'last'] as const) {
        const q = gpuSeries('GPU-io', ['DCGM_FI_DEV_GPU_TEMP'], { agg, stepSeconds: 3600, fromS: Math.floor(t / 1000) - 3600, toS: Math.floor(t / 1000) + 7200, rollups: true })
        const plan = JSON.stringify((await c.query({ text: `EXPLAIN (FORMAT JSON) ${q.text}`, values: q.values })).rows[0])
        expect(plan, agg).toMatch(/"Node Type":"Index Only Scan"/)
        expect(plan, agg).not.toMatch(/"Node Type":"(Index Scan|Seq Scan|Bitmap Heap Scan)"/)
      }
    } finally {
      c.release(true)
    }
  })

  it('a latest refresh reads what arrived since the last one, not every row of the minute it arrived in', async () => {
    // Live ingest marks the current minute on every batch; the refresh used to rescan the minute so far
    // each second (653 ms a call, ~20% of the database's time under remote_write ingest).
    const t = Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000 // a whole minute, five minutes ago
    const big = Array.from({ length: 4000 }, (_, i) => row(`GPU-m${i % 40}`, 'DCGM_FI_DEV_POWER_USAGE', i, new Date(t + (i % 50_000)).toISOString()))
    for (let i = 0; i < big.length; i += 1000) await insert(db, big.slice(i, i + 1000))
    await derive(db)
    await insert(db, [row('GPU-m7', 'DCGM_FI_DEV_POWER_USAGE', 123.5, new Date(t + 59_000).toISOString())])
    const c = await db.pool.connect()
    try {
      // Tuples this session read from telemetry's partitions and their indexes (any scan, index-only too).
      // PostgreSQL 15 keeps a session's counts pending across transactions until it flushes them: the
      // difference around the call is what the call read.
      const readSoFar = async () =>
        Number(
          (
            await c.query<{ n: string }>(
              `WITH rel AS (
                 SELECT i.inhrelid AS oid FROM pg_inherits i WHERE i.inhparent = 'telemetry'::regclass
                 UNION ALL SELECT x.indexrelid FROM pg_index x JOIN pg_inherits i ON x.indrelid = i.inhrelid WHERE i.inhparent = 'telemetry'::regclass
               )
               SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(oid) + pg_stat_get_xact_tuples_fetched(oid)), 0) AS n FROM rel`,
            )
          ).rows[0]!.n,
        )
      await c.query('BEGIN')
      const before = await readSoFar()
      const n = await c.query<{ n: string }>('SELECT tpipe_refresh_latest() AS n')
      const read = (await readSoFar()) - before
      await c.query('COMMIT')
      expect(Number(n.rows[0]!.n)).toBe(1)
      expect(read).toBeLessThan(100)
    } finally {
      c.release()
    }
    expect((await db.pool.query("SELECT value FROM telemetry_latest WHERE gpu_uuid = 'GPU-m7' AND metric_name = 'DCGM_FI_DEV_POWER_USAGE'")).rows).toEqual([{ value: 123.5 }])
    await expectDerivedTablesMatchRaw(db)
  })

  it('one run at a time: a second caller skips while the lock is held', async () => {
    const holder = await db.pool.connect()
    try {
      await holder.query('SELECT pg_advisory_lock(7466272736914)')
      expect(await deriveOnce(db.pool)).toEqual({ ran: false, latest: 0, rollups: 0 })
    } finally {
      await holder.query('SELECT pg_advisory_unlock(7466272736914)')
      holder.release()
    }
  })

  it('stays exact under concurrent batches and concurrent runs', async () => {
    const t = Date.now() - 600_000
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let b = 0; b < 10; b++) {
        await insert(db, Array.from({ length: 100 }, (_, i) => row(`GPU-c${i % 7}`, `M${i % 3}`, w * 1000 + b * 100 + i, new Date(t + (b * 100 + i) * 250 + w).toISOString())))
      }
    })
    const runs = (async () => {
      for (let i = 0; i < 20; i++) await deriveOnce(db.pool, { quietSeconds: 0 }).catch(() => undefined)
    })()
    await Promise.all([...writers, runs])
    await expectDerivedTablesMatchRaw(db)
  })
})

describe('the collector’s maintenance loop', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db.drop()
  })

  it('runs a pass at start (partitions ahead, metrics), and a failed pass is counted, not fatal', async () => {
    const { startMaintenanceLoop } = await import('./loop.js')
    const { createRegistry, metricValue } = await import('../metrics/index.js')
    const { pino } = await import('pino')
    const registry = createRegistry({ defaultMetrics: false })
    // Hourly partitions: the next 48 hours must exist after the first pass.
    const loop = startMaintenanceLoop({ pool: db.pool, registry, log: pino({ level: 'silent' }), intervalMs: 3_600_000, maintain: { partitionMs: 3_600_000, retentionMs: 7 * DAY, rollupRetentionMs: 90 * DAY } })
    try {
      await expect.poll(async () => metricValue(registry, 'telemetry_maintenance_runs_total'), { timeout: 20_000 }).toBe(1)
      const probe = row('GPU-loop', 'DCGM_FI_DEV_GPU_UTIL', 1, new Date(Date.now() + 47 * 3_600_000).toISOString())
      expect((await insert(db, [probe])).unpartitioned).toBe(0)
      // A pass that fails (the functions are gone) is counted as failed; the loop goes on.
      await db.pool.query('ALTER FUNCTION tpipe_ensure_partition(text, text, timestamptz, timestamptz) RENAME TO tpipe_ensure_partition_gone')
      await db.pool.query("SELECT tpipe_drop_partition('telemetry', relname) FROM pg_class WHERE relname LIKE 'telemetry_p%' AND relkind = 'r' ORDER BY relname DESC LIMIT 1")
      await loop.runOnce()
      const text = await registry.metrics()
      expect(text).toMatch(/telemetry_maintenance_runs_total\{result="failed"\} 1/)
      await db.pool.query('ALTER FUNCTION tpipe_ensure_partition_gone(text, text, timestamptz, timestamptz) RENAME TO tpipe_ensure_partition')
      const again = await loop.runOnce()
      expect(again?.ran).toBe(true)
      expect(again!.created.length).toBeGreaterThan(0) // the hours of the dropped day within the next 48 h
    } finally {
      await loop.stop()
    }
  })
})
