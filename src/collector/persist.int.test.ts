// A redelivered batch racing the maintenance loop moving its rows out of the default partition (late
// samples get their partition when it is created). Found as a 30 s stall in CI: the partition move and
// the collector's insert deadlocked, PostgreSQL failed the insert (40P01), and the lease waited out its
// visibility timeout. Real PostgreSQL; the interleaving is forced with a lock a test session holds on
// telemetry (SHARE UPDATE EXCLUSIVE: inserts go on, ATTACH PARTITION waits).
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRegistry, metricValue } from '../metrics/index.js'
import type { LeasedMessage } from '../protocol/lease.js'
import { payload, silent } from '../../test/support/mqreader.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { waitFor } from '../util/async.js'
import { uuidv7 } from '../util/ids.js'
import { collectorMetrics } from './metrics.js'
import { persister } from './persist.js'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.drop()
})

// A day with no partition (the maintenance loop creates them from today on): its rows go to the default.
const DAY = Date.UTC(2026, 10, 3)
const iso = (ms: number) => new Date(ms).toISOString()

function lease(n: number, tag: string, day: number): LeasedMessage[] {
  return Array.from({ length: n }, (_, i) => {
    const p = payload(`GPU-${tag}`, i)
    p.ts = iso(day + 3_600_000 + i * 1000)
    return { msg_uuid: uuidv7(), key: `GPU-${tag}`, partition: 1, payload: p, delivery_count: 1, enqueued_at: iso(Date.now()) }
  })
}

function newPersist() {
  const registry = createRegistry()
  const metrics = collectorMetrics(registry)
  return { registry, persist: persister(db.pool, metrics, silent) }
}

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: db.url })
  await c.connect()
  return c
}

const pidOf = async (c: pg.Client) => Number((await c.query('SELECT pg_backend_pid() AS p')).rows[0].p)

/** Resolves once the session `pid` waits for a lock (heavyweight or a row's transaction). */
async function waitingOnLock(pid: number, what: string): Promise<void> {
  await waitFor(async () => ((await db.pool.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [pid])).rowCount === 1 ? true : undefined), {
    timeoutMs: 10_000,
    intervalMs: 20,
    what,
  })
}

const retries = (registry: Parameters<typeof metricValue>[0], reason: string) => metricValue(registry, 'collector_persist_retries_total', { reason })

async function rowsOf(ms: LeasedMessage[]): Promise<{ n: number; distinct: number; partitions: string[] }> {
  const r = await db.pool.query<{ n: string; d: string; parts: string[] }>(
    'SELECT count(*) AS n, count(DISTINCT msg_uuid) AS d, array_agg(DISTINCT tableoid::regclass::text) AS parts FROM telemetry WHERE msg_uuid = ANY($1::uuid[])',
    [ms.map((m) => m.msg_uuid)],
  )
  return { n: Number(r.rows[0]!.n), distinct: Number(r.rows[0]!.d), partitions: r.rows[0]!.parts ?? [] }
}

describe('a redelivered batch racing a partition move out of the default partition', () => {
  it('tpipe_ensure_partition does not deadlock with it: no deadlock, each row once, in the new partition, nothing dead-lettered', async () => {
    const messages = lease(50, 'move', DAY)
    const { persist } = newPersist()
    await persist(messages) // first delivery: the rows wait in telemetry_default
    expect((await rowsOf(messages)).partitions).toEqual(['telemetry_default'])

    const holder = await client() // holds ATTACH PARTITION back (inserts are not blocked by it)
    const maint = await client()
    try {
      await holder.query('BEGIN')
      await holder.query('LOCK TABLE telemetry IN SHARE UPDATE EXCLUSIVE MODE')
      const maintPid = await pidOf(maint)
      const moving = maint.query("SELECT tpipe_ensure_partition('telemetry', 'ts', $1, $2)", [iso(DAY), iso(DAY + 86_400_000)])
      await waitingOnLock(maintPid, 'the partition move waiting to attach')
      // The redelivery: starts while the move is between its DELETE and its ATTACH.
      const again = newPersist()
      const redelivered = again.persist(messages)
      await waitFor(
        async () => ((await db.pool.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> $1 AND query LIKE '%INSERT INTO telemetry%'", [maintPid])).rowCount === 1 ? true : undefined),
        { timeoutMs: 10_000, intervalMs: 20, what: 'the redelivery waiting' },
      )
      await holder.query('COMMIT')
      await moving
      await redelivered
      // Before migration 1764209500000: the redelivery was the deadlock victim (rejected with "deadlock
      // detected" before the collector retried such batches; counted here since).
      expect(await retries(again.registry, 'deadlock')).toBe(0)
      const rows = await rowsOf(messages)
      expect(rows).toEqual({ n: 50, distinct: 50, partitions: ['telemetry_p20261103'] })
      expect(Number((await db.pool.query('SELECT count(*) AS n FROM dead_letters')).rows[0].n)).toBe(0)
    } finally {
      await holder.end()
      await maint.end()
    }
  })

  it('the collector runs a batch that was a deadlock victim again at once instead of leaving it to the visibility timeout', async () => {
    const day = DAY + 86_400_000
    const messages = lease(40, 'victim', day)
    const { persist } = newPersist()
    await persist(messages) // first delivery: the rows wait in telemetry_default

    // The lock order the migration before 1764209500000 used: rows deleted first, ATTACH after — a
    // cycle with an insert of the same rows that started in between. PostgreSQL fails the insert.
    const maint = await client()
    try {
      await maint.query('BEGIN')
      await maint.query("CREATE TABLE telemetry_p20261104 (LIKE telemetry INCLUDING DEFAULTS)")
      await maint.query('WITH moved AS (DELETE FROM telemetry_default WHERE ts >= $1 AND ts < $2 RETURNING *) INSERT INTO telemetry_p20261104 SELECT * FROM moved', [iso(day), iso(day + 86_400_000)])
      const again = newPersist()
      const redelivered = again.persist(messages)
      await waitFor(async () => ((await db.pool.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO telemetry%'")).rowCount === 1 ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 20,
        what: 'the redelivery waiting on the moved rows',
      })
      const attach = maint.query("ALTER TABLE telemetry ATTACH PARTITION telemetry_p20261104 FOR VALUES FROM ('2026-11-04') TO ('2026-11-05')").then(() => maint.query('COMMIT'))
      await redelivered // before the fix: rejected, "deadlock detected"
      await attach
      expect(await retries(again.registry, 'deadlock')).toBe(1) // the race really happened
      expect(await rowsOf(messages)).toEqual({ n: 40, distinct: 40, partitions: ['telemetry_p20261104'] })
      expect(Number((await db.pool.query('SELECT count(*) AS n FROM dead_letters')).rows[0].n)).toBe(0)
    } finally {
      await maint.end()
    }
  })
})
