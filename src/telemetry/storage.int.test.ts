// Partitioned telemetry against a real PostgreSQL: the migration of a table with rows, dedup across
// redelivery, late and future samples, retention, and the derived tables (latest values, rollups)
// checked against what the raw rows say.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate, migrationFiles } from '../db/migrate.js'
import { columnsOf } from '../collector/columns.js'
import { persistBatch, withDuplicates, type TelemetryRowJson } from '../collector/sql.js'
import { PG_ERROR, pgCode } from '../db/errors.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { deriveOnce } from './derive.js'
import { HOUR_ROLLUP_PARTITION_MS, maintain, type MaintainOptions } from './maintain.js'
import { gpuSeries } from '../apigw/sql.js'

const DAY = 86_400_000
const PARTITIONING = migrationFiles().findIndex((f) => f.startsWith('1764202000000'))
const HOURLY = migrationFiles().findIndex((f) => f.startsWith('1764209200000'))

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

/** The collector's statement; at a schema before telemetry_series (1764209800000), an INSERT of that version's columns. */
async function insert(db: TestDatabase, rows: TelemetryRowJson[]): Promise<{ inserted: number; unpartitioned: number }> {
  const series = (await db.pool.query<{ t: string | null }>("SELECT to_regclass('telemetry_series') AS t")).rows[0]!.t
  if (series === null) {
    const r = await db.pool.query<{ inserted: number; unpartitioned: number }>({
      text: `WITH t AS (
               INSERT INTO telemetry (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts, labels)
               SELECT msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts, labels
               FROM json_to_recordset($1::json) AS r(msg_uuid uuid, gpu_uuid text, gpu_id smallint, device text, hostname text, model_name text,
                                                     metric_name text, value double precision, ts timestamptz, labels jsonb)
               ON CONFLICT (ts, msg_uuid) DO NOTHING RETURNING tableoid)
             SELECT count(*)::int AS inserted, (count(*) FILTER (WHERE tableoid = 'telemetry_default'::regclass))::int AS unpartitioned FROM t`,
      values: [JSON.stringify(rows)],
    })
    return r.rows[0]!
  }
  // As the collector runs it: plain first, again with ON CONFLICT when a row is stored already (a redelivery).
  const statement = persistBatch(columnsOf(rows), [])
  try {
    return (await db.pool.query<{ inserted: number; unpartitioned: number }>(statement)).rows[0]!
  } catch (err) {
    if (pgCode(err) !== PG_ERROR.uniqueViolation) throw err
    return (await db.pool.query<{ inserted: number; unpartitioned: number }>(withDuplicates(statement))).rows[0]!
  }
}

const maintainOpts = (now: number, over: Partial<MaintainOptions> = {}): MaintainOptions => ({
  partitionMs: DAY,
  retentionMs: 7 * DAY,
  rollupRetentionMs: 90 * DAY,
  rollup1hRetentionMs: 400 * DAY,
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

describe('migration to hourly rollups (1764209200000)', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false })
  })
  afterAll(async () => {
    await db.drop()
  })

  it('fills telemetry_1h from the existing minutes (partitions for their hours), goes down (the minute job as before) and up again', async () => {
    await migrate(db.url, 'up', { count: HOURLY })
    expect((await db.pool.query("SELECT to_regclass('telemetry_1h') AS t")).rows[0].t).toBeNull()
    // Three hours and a bit of two GPUs and two metrics, plus a sample in 2019 (its minute sits in
    // telemetry_1m's default partition), rolled up by the job of that version.
    const t0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000 - 600_000
    const rows: TelemetryRowJson[] = []
    for (let i = 0; i < 800; i++) rows.push(row(`GPU-h${i % 2}`, i % 3 ? 'DCGM_FI_DEV_GPU_UTIL' : 'DCGM_FI_DEV_POWER_USAGE', (i * 7.25) % 101, new Date(t0 + i * 14_321).toISOString()))
    rows.push(row('GPU-h0', 'DCGM_FI_DEV_GPU_UTIL', 42, '2019-03-01T12:00:00.123456Z'))
    await insert(db, rows)
    await derive(db)
    const minutes = Number((await db.pool.query('SELECT count(*) AS n FROM telemetry_1m')).rows[0].n)
    expect(minutes).toBeGreaterThan(150)

    await migrate(db.url, 'up')
    // The hours equal the raw rows' aggregates at once, without a derive run (no minute is marked).
    expect((await db.pool.query('SELECT count(*)::int AS n FROM telemetry_dirty_rollups')).rows[0].n).toBe(0)
    await expectDerivedTablesMatchRaw(db)
    expect(Number((await db.pool.query('SELECT count(*) AS n FROM telemetry_1h')).rows[0].n)).toBeGreaterThanOrEqual(2 * 2 * 4 + 1)
    expect((await db.pool.query('SELECT count(*)::int AS n FROM telemetry_1h_default')).rows[0].n).toBe(0)
    expect(await partitions(db, 'telemetry_1h')).toEqual(expect.arrayContaining(['telemetry_1h_default', expect.stringMatching(/^telemetry_1h_p2019\d{4}$/)]))

    // Down: the table goes, the partition functions refuse it again, and the minute job works as before.
    await migrate(db.url, 'down', { count: migrationFiles().length - HOURLY })
    expect((await db.pool.query("SELECT to_regclass('telemetry_1h') AS t")).rows[0].t).toBeNull()
    await expect(db.pool.query("SELECT tpipe_ensure_partition('telemetry_1h', 'bucket', '2026-01-01', '2026-01-29')")).rejects.toThrow(/not a partitioned telemetry table/)
    await insert(db, [row('GPU-h1', 'DCGM_FI_DEV_GPU_UTIL', 99, new Date(t0 + 2 * 3_600_000 + 1).toISOString())])
    expect((await derive(db)).rollups).toBeGreaterThan(0) // that minute, recomputed whole
    expect((await db.pool.query("SELECT proconfig FROM pg_proc WHERE proname = 'tpipe_refresh_rollups'")).rows[0].proconfig).toEqual([expect.stringMatching(/^search_path=/)])

    // And up again: the hours include the sample rolled up while they were gone.
    await migrate(db.url, 'up')
    await expectDerivedTablesMatchRaw(db)
  })
})

describe('a 30-day query at step=1h', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db.drop()
  })

  it('reads 720 hour rows from telemetry_1h (index-only), not 43,200 minute rows, and answers what the raw rows say', async () => {
    const H = 3_600_000
    const end = Math.floor(Date.now() / H) * H
    const start = end - 30 * DAY
    const rows: TelemetryRowJson[] = []
    for (let t = start; t < end; t += 60_000) rows.push(row('GPU-30d', 'DCGM_FI_DEV_GPU_UTIL', (t / 60_000) % 89, new Date(t + 1_500).toISOString()))
    for (let i = 0; i < rows.length; i += 5000) await insert(db, rows.slice(i, i + 5000))
    await derive(db)
    await db.pool.query('VACUUM (ANALYZE) telemetry_1h')
    const { buildApigw } = await import('../apigw/app.js')
    const { pino } = await import('pino')
    const { app } = await buildApigw({ logLevel: 'silent', bodyLimitBytes: 1048576, metricsEnabled: false }, { pool: db.pool, logger: pino({ level: 'silent' }) })
    try {
      const url = `/api/v1/gpus/GPU-30d/telemetry?metric=DCGM_FI_DEV_GPU_UTIL&start=${new Date(start).toISOString()}&end=${new Date(end - 1).toISOString()}&step=1h&agg=avg`
      const body = (await app.inject({ method: 'GET', url })).json()
      expect(body.source).toBe('telemetry_1h')
      const points = body.series[0].points as [number, number][]
      expect(points).toHaveLength(720)
      // Every hour: the average of its 60 samples, as computed here from the rows inserted.
      for (const [i, [t, v]] of points.entries()) {
        const vs = rows.slice(i * 60, i * 60 + 60).map((r) => Number(r.value))
        expect(t).toBe((start + i * H) / 1000)
        expect(v).toBeCloseTo(vs.reduce((s, x) => s + x, 0) / 60, 9)
      }
    } finally {
      await app.close()
    }
    // The statement it ran: an index-only scan of 720 rows of telemetry_1h.
    const q = gpuSeries('GPU-30d', ['DCGM_FI_DEV_GPU_UTIL'], { agg: 'avg', stepSeconds: 3600, fromS: start / 1000, toS: end / 1000, source: 'telemetry_1h' })
    const c = await db.pool.connect()
    let plan: unknown
    try {
      // The test table is tiny: rule out the scans a planner prefers there (as the covering-key test does).
      await c.query('SET enable_seqscan = off')
      await c.query('SET enable_bitmapscan = off')
      plan = (await c.query({ text: `EXPLAIN (ANALYZE, FORMAT JSON) ${q.text}`, values: q.values })).rows[0]['QUERY PLAN'][0].Plan
    } finally {
      c.release(true)
    }
    const scans: { type: string; rel: string; rows: number }[] = []
    const walk = (n: { 'Node Type': string; 'Relation Name'?: string; 'Actual Rows': number; 'Actual Loops': number; Plans?: unknown[] }) => {
      if (n['Relation Name']) scans.push({ type: n['Node Type'], rel: n['Relation Name'], rows: n['Actual Rows'] * n['Actual Loops'] })
      for (const c of n.Plans ?? []) walk(c as never)
    }
    walk(plan as never)
    expect(scans.every((x) => /^telemetry_1h_/.test(x.rel) && x.type === 'Index Only Scan'), JSON.stringify(scans)).toBe(true)
    expect(scans.reduce((s, x) => s + x.rows, 0)).toBe(720)
  })
})

/** Aggregates of raw rows per (gpu, metric, bucket of `ms`): what telemetry_1m (60 s) and telemetry_1h (3600 s) must hold. */
type Agg = { count: number; sum: number; min: number; max: number; last: number; lastKey: string }
function aggregate(rows: readonly { gpu_uuid: string; metric_name: string; value: number; ts: Date; msg_uuid: string }[], ms: number): Map<string, Agg> {
  const out = new Map<string, Agg>()
  const key = (r: { ts: Date; msg_uuid: string }) => `${r.ts.toISOString()}|${r.msg_uuid}`
  for (const r of rows) {
    const k = `${r.gpu_uuid}|${r.metric_name}|${(Math.floor(r.ts.getTime() / ms) * ms) / 1000}`
    const m = out.get(k)
    if (!m) out.set(k, { count: 1, sum: r.value, min: r.value, max: r.value, last: r.value, lastKey: key(r) })
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
  return out
}

async function expectRollupsMatch(db: TestDatabase, table: 'telemetry_1m' | 'telemetry_1h', want: Map<string, Agg>): Promise<void> {
  const got = await db.pool.query<{ gpu_uuid: string; metric_name: string; b: string; count: string; sum: number; min: number; max: number; last: number; last_ts: Date; last_msg: string }>(
    `SELECT gpu_uuid, metric_name, extract(epoch FROM bucket)::bigint AS b, count, sum, min, max, last, last_ts, last_msg::text FROM ${table}`,
  )
  expect(got.rows.length, table).toBe(want.size)
  for (const r of got.rows) {
    const m = want.get(`${r.gpu_uuid}|${r.metric_name}|${r.b}`)
    expect(m, `${table} ${r.gpu_uuid} ${r.metric_name} ${r.b}`).toBeDefined()
    expect(Number(r.count)).toBe(m!.count)
    expect(r.sum).toBeCloseTo(m!.sum, 6)
    expect(r.sum / Number(r.count), 'avg').toBeCloseTo(m!.sum / m!.count, 9)
    expect([r.min, r.max, r.last, `${r.last_ts.toISOString()}|${r.last_msg}`]).toEqual([m!.min, m!.max, m!.last, m!.lastKey])
  }
}

/** telemetry_latest = newest raw row by (ts, msg_uuid); telemetry_1m and telemetry_1h = aggregates of the raw rows per minute and per hour. */
async function expectDerivedTablesMatchRaw(db: TestDatabase): Promise<void> {
  await derive(db)
  const raw = await db.pool.query<{ gpu_uuid: string; metric_name: string; value: number; ts: Date; msg_uuid: string }>(
    'SELECT gpu_uuid, metric_name, value, ts, msg_uuid::text FROM telemetry',
  )
  const newest = new Map<string, (typeof raw.rows)[number]>()
  const key = (r: { ts: Date; msg_uuid: string }) => `${r.ts.toISOString()}|${r.msg_uuid}`
  for (const r of raw.rows) {
    const k = `${r.gpu_uuid}|${r.metric_name}`
    const cur = newest.get(k)
    if (!cur || key(r) > key(cur)) newest.set(k, r)
  }
  const latest = await db.pool.query<{ gpu_uuid: string; metric_name: string; value: number; ts: Date; msg_uuid: string }>(
    'SELECT gpu_uuid, metric_name, value, ts, msg_uuid::text FROM telemetry_latest',
  )
  expect(latest.rows.length).toBe(newest.size)
  for (const l of latest.rows) {
    const n = newest.get(`${l.gpu_uuid}|${l.metric_name}`)!
    expect({ value: l.value, ts: l.ts, msg: l.msg_uuid }).toEqual({ value: n.value, ts: n.ts, msg: n.msg_uuid })
  }
  await expectRollupsMatch(db, 'telemetry_1m', aggregate(raw.rows, 60_000))
  await expectRollupsMatch(db, 'telemetry_1h', aggregate(raw.rows, 3_600_000))
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

  it('hour rollups: 28-day partitions for their hours, dropped past their own retention (longer than the minutes\') and nothing newer', async () => {
    const now = Date.parse('2026-06-15T12:00:00Z')
    const SLOT = HOUR_ROLLUP_PARTITION_MS
    const ages = [150, 100, 70, 59, 30, 1] // days before now
    for (const d of ages) await insert(db, [row('GPU-hret', 'DCGM_FI_DEV_GPU_UTIL', d, new Date(now - d * DAY).toISOString())])
    await derive(db)
    // Long retentions first: every slot with hours gets its partition (the rows move out of the default one).
    const first = await runMaintain(db, maintainOpts(now, { retentionMs: 400 * DAY, rollupRetentionMs: 400 * DAY, rollup1hRetentionMs: 400 * DAY }))
    const slotName = (ms: number) => `telemetry_1h_p${new Date(Math.floor(ms / SLOT) * SLOT).toISOString().slice(0, 10).replace(/-/g, '')}`
    for (const d of ages) expect(await partitions(db, 'telemetry_1h')).toContain(slotName(now - d * DAY))
    for (const p of first.created.filter((x) => x.table === 'telemetry_1h')) expect(Date.parse(p.to) - Date.parse(p.from)).toBe(SLOT)
    const where = await db.pool.query<{ part: string }>("SELECT DISTINCT tableoid::regclass::text AS part FROM telemetry_1h WHERE gpu_uuid = 'GPU-hret'")
    expect(where.rows.map((r) => r.part)).not.toContain('telemetry_1h_default')

    // Minutes kept 90 days, hours 120: the hour horizon is 2026-02-15T12:00Z.
    const opts = maintainOpts(now, { retentionMs: 400 * DAY, rollupRetentionMs: 90 * DAY, rollup1hRetentionMs: 120 * DAY })
    const horizon = now - 120 * DAY
    const dry = await runMaintain(db, { ...opts, dryRun: true })
    const real = await runMaintain(db, opts)
    const droppedHours = real.dropped.filter((p) => p.table === 'telemetry_1h')
    expect(droppedHours.map((p) => p.name)).toEqual(dry.dropped.filter((p) => p.table === 'telemetry_1h').map((p) => p.name))
    // Exactly the partitions ending at or before the horizon: the one of 150 days ago goes, the one holding
    // the horizon stays (its rows are younger than its end), and so does every newer one.
    expect(droppedHours.map((p) => p.name)).toContain(slotName(now - 150 * DAY))
    for (const p of droppedHours) expect(Date.parse(p.to)).toBeLessThanOrEqual(horizon)
    const left = await partitions(db, 'telemetry_1h')
    for (const d of [100, 70, 59, 30, 1]) expect(left).toContain(slotName(now - d * DAY))
    const hours = await db.pool.query<{ v: number }>("SELECT sum / count AS v FROM telemetry_1h WHERE gpu_uuid = 'GPU-hret' ORDER BY bucket")
    expect(hours.rows.map((r) => r.v)).toEqual([100, 70, 59, 30, 1])
    // The minutes of 100 days ago went with the minute retention (90 days); the hours keep them.
    const minutes = await db.pool.query<{ v: number }>("SELECT sum / count AS v FROM telemetry_1m WHERE gpu_uuid = 'GPU-hret' ORDER BY bucket")
    expect(minutes.rows.map((r) => r.v)).toEqual([70, 59, 30, 1])
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
    // 10 s into a minute: the two samples (t, t + 1 s) share their minute (unaligned, 1 run in 60 straddled two).
    const t = Math.floor((Date.now() - 120_000) / 60_000) * 60_000 + 10_000
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
        const q = gpuSeries('GPU-io', ['DCGM_FI_DEV_GPU_TEMP'], { agg, stepSeconds: 3600, fromS: Math.floor(t / 1000) - 3600, toS: Math.floor(t / 1000) + 7200, source: 'telemetry_1m' })
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

  it('hours are exact: hour boundaries, ties on ts, a late sample recomputes its hour; UTC hours whatever the session TimeZone', async () => {
    const H = 3_600_000
    const h0 = Math.floor(Date.now() / H) * H - 3 * H
    const at = (ms: number) => new Date(h0 + ms).toISOString()
    const g = 'GPU-hour'
    const rows = [
      row(g, 'DCGM_FI_DEV_GPU_UTIL', 7, at(-1)), // last millisecond of the previous hour
      row(g, 'DCGM_FI_DEV_GPU_UTIL', 8, at(0)), // first of this hour
      row(g, 'DCGM_FI_DEV_GPU_UTIL', 30, at(17 * 60_000 + 250)),
      row(g, 'DCGM_FI_DEV_GPU_UTIL', 31, at(30 * 60_000)),
      row(g, 'DCGM_FI_DEV_GPU_UTIL', 32, at(30 * 60_000)), // same ts: the greater msg_uuid is that minute's last
      row(g, 'DCGM_FI_DEV_GPU_UTIL', 9, at(H - 1)), // last millisecond of this hour
      row(g, 'DCGM_FI_DEV_GPU_UTIL', 10, at(H)), // first of the next
      row(g, 'DCGM_FI_DEV_POWER_USAGE', 400.5, at(59 * 60_000 + 59_000)),
      row(g, 'DCGM_FI_DEV_POWER_USAGE', 410.25, at(H + 59 * 60_000)),
    ]
    await insert(db, rows)
    // The job in a session whose TimeZone is 5:30 off UTC: the hours must still start at UTC hours.
    const c = await db.pool.connect()
    try {
      await c.query("SET TIME ZONE 'Asia/Kolkata'")
      await c.query("SELECT tpipe_refresh_rollups('0 seconds', '0 seconds')")
    } finally {
      c.release(true)
    }
    await expectDerivedTablesMatchRaw(db)
    const hour = async (ms: number) =>
      (await db.pool.query("SELECT count::int, sum, min, max, last FROM telemetry_1h WHERE gpu_uuid = $1 AND metric_name = 'DCGM_FI_DEV_GPU_UTIL' AND bucket = $2", [g, new Date(h0 + ms)])).rows[0]
    expect(await hour(0)).toEqual({ count: 5, sum: 8 + 30 + 31 + 32 + 9, min: 8, max: 32, last: 9 })
    expect(await hour(-H)).toEqual({ count: 1, sum: 7, min: 7, max: 7, last: 7 })
    // Late samples, minutes after the hour was rolled up: a new maximum in the middle and a new last
    // (same ts as the hour's newest sample, but a greater msg_uuid), and a new minimum in another minute.
    const later = row(g, 'DCGM_FI_DEV_GPU_UTIL', 1000, at(40 * 60_000))
    const sameTs = row(g, 'DCGM_FI_DEV_GPU_UTIL', 55, at(H - 1), { msg_uuid: 'ffffffff-ffff-4fff-bfff-ffffffffffff' })
    const low = row(g, 'DCGM_FI_DEV_GPU_UTIL', -5, at(5 * 60_000))
    await insert(db, [later, sameTs, low])
    await derive(db)
    expect(await hour(0)).toEqual({ count: 8, sum: 8 + 30 + 31 + 32 + 9 + 1000 + 55 - 5, min: -5, max: 1000, last: 55 })
    // Neighbouring hours untouched.
    expect(await hour(-H)).toEqual({ count: 1, sum: 7, min: 7, max: 7, last: 7 })
    expect(await hour(H)).toEqual({ count: 1, sum: 10, min: 10, max: 10, last: 10 })
    // Late samples in minutes that had no row yet are combined into their hour without a recompute: a new
    // maximum (not last) in one hour, a new last (and minimum) in the next.
    await insert(db, [row(g, 'DCGM_FI_DEV_GPU_UTIL', 2000, at(45 * 60_000)), row(g, 'DCGM_FI_DEV_GPU_UTIL', 1, at(H + 10 * 60_000))])
    await derive(db)
    expect(await hour(0)).toEqual({ count: 9, sum: 8 + 30 + 31 + 32 + 9 + 1000 + 55 - 5 + 2000, min: -5, max: 2000, last: 55 })
    expect(await hour(H)).toEqual({ count: 2, sum: 11, min: 1, max: 10, last: 1 })
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
    const loop = startMaintenanceLoop({ pool: db.pool, registry, log: pino({ level: 'silent' }), intervalMs: 3_600_000, maintain: { partitionMs: 3_600_000, retentionMs: 7 * DAY, rollupRetentionMs: 90 * DAY, rollup1hRetentionMs: 400 * DAY } })
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
