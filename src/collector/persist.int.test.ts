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

/**
 * The redelivery's own pool: a name the lock probes can find (and no other session of the server has),
 * and a deadlock check 3 s into a wait instead of 1 s, so that where a cycle forms, this session is the
 * one that finds it (the session it waits on checks after 60 s), whatever the machine's load.
 */
function redeliveryPool(): pg.Pool {
  return new pg.Pool({ connectionString: db.url, max: 2, application_name: 'tpipe-test-redelivery', options: '-c deadlock_timeout=3s' })
}

function newPersist(pool: pg.Pool = db.pool) {
  const registry = createRegistry()
  const metrics = collectorMetrics(registry)
  return { registry, persist: persister(pool, metrics, silent) }
}

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: db.url, application_name: 'tpipe-test-maintenance' })
  await c.connect()
  await c.query("SET deadlock_timeout = '60s'")
  return c
}

/** Resolves once a session of this database with that application_name waits for a lock. */
async function waitingOnLock(applicationName: string, what: string): Promise<void> {
  await waitFor(
    async () =>
      (await db.pool.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND wait_event_type = 'Lock'", [applicationName])).rowCount! > 0
        ? true
        : undefined,
    { timeoutMs: 10_000, intervalMs: 20, what },
  )
}

const retries = (registry: Parameters<typeof metricValue>[0], reason: string) => metricValue(registry, 'collector_persist_retries_total', { reason })

async function rowsOf(ms: LeasedMessage[]): Promise<{ n: number; distinct: number; partitions: string[] }> {
  const r = await db.pool.query<{ n: string; d: string; parts: string[] }>(
    'SELECT count(*) AS n, count(DISTINCT msg_uuid) AS d, array_agg(DISTINCT tableoid::regclass::text) AS parts FROM telemetry WHERE msg_uuid = ANY($1::uuid[])',
    [ms.map((m) => m.msg_uuid)],
  )
  return { n: Number(r.rows[0]!.n), distinct: Number(r.rows[0]!.d), partitions: r.rows[0]!.parts ?? [] }
}

const deadLetters = async () => Number((await db.pool.query('SELECT count(*) AS n FROM dead_letters')).rows[0].n)

/** A statement trigger on the default partition makes a move wait, right after its DELETE, for advisory lock 4242. */
async function holdMovesAfterDelete(): Promise<void> {
  await db.pool.query(`CREATE FUNCTION test_hold_move() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$;
                       CREATE TRIGGER test_hold_move AFTER DELETE ON telemetry_default FOR EACH STATEMENT EXECUTE FUNCTION test_hold_move()`)
}

async function releaseMoves(): Promise<void> {
  await db.pool.query('DROP TRIGGER IF EXISTS test_hold_move ON telemetry_default; DROP FUNCTION IF EXISTS test_hold_move()')
}

describe('a redelivered batch racing a partition move out of the default partition', () => {
  it('tpipe_ensure_partition does not deadlock with it: the redelivery waits for the move, is rerouted, each row once, nothing dead-lettered', async () => {
    const messages = lease(50, 'move', DAY)
    const { persist } = newPersist()
    await persist(messages) // first delivery: the rows wait in telemetry_default
    expect((await rowsOf(messages)).partitions).toEqual(['telemetry_default'])
    // Holds the move right after its DELETE (a statement trigger on the default partition waits for an
    // advisory lock the test holds): the redelivery arrives in the middle of the move.
    await holdMovesAfterDelete()
    const holder = await client()
    const maint = await client()
    const pool = redeliveryPool()
    try {
      await holder.query('SELECT pg_advisory_lock(4242)')
      const moving = maint.query("SELECT tpipe_ensure_partition('telemetry', 'ts', $1, $2) AS name", [iso(DAY), iso(DAY + 86_400_000)])
      moving.catch(() => {})
      await waitingOnLock('tpipe-test-maintenance', 'the move held after its DELETE')
      const again = newPersist(pool)
      const redelivered = again.persist(messages)
      redelivered.catch(() => {})
      await waitingOnLock('tpipe-test-redelivery', 'the redelivery waiting')
      await holder.query('SELECT pg_advisory_unlock(4242)')
      expect((await moving).rows[0].name).toBe('telemetry_p20261103')
      await redelivered
      // Before migration 1764209500000 the redelivery waited on the moved rows, ATTACH then waited on the
      // redelivery: a deadlock (this session, 3 s, finds it: 'expected 1 to be +0').
      expect(await retries(again.registry, 'deadlock')).toBe(0)
      // Now it waited for the move's lock on the default partition, then ran again, rerouted.
      expect(await retries(again.registry, 'partition_moved')).toBe(1)
      expect(await rowsOf(messages)).toEqual({ n: 50, distinct: 50, partitions: ['telemetry_p20261103'] })
      expect(await deadLetters()).toBe(0)
    } finally {
      await holder.end()
      await maint.end()
      await pool.end()
      await releaseMoves()
    }
  })

  it('the collector runs a batch that was a deadlock victim again at once instead of leaving it to the visibility timeout', async () => {
    const day = DAY + 86_400_000
    const messages = lease(40, 'victim', day)
    const { persist } = newPersist()
    await persist(messages) // first delivery: the rows wait in telemetry_default

    // The lock order the migration before 1764209500000 used, done by hand: rows deleted first, ATTACH after —
    // a cycle with an insert of the same rows that started in between. PostgreSQL fails the insert.
    const maint = await client()
    const pool = redeliveryPool()
    try {
      await maint.query('BEGIN')
      await maint.query('CREATE TABLE telemetry_p20261104 (LIKE telemetry INCLUDING DEFAULTS)')
      await maint.query('WITH moved AS (DELETE FROM telemetry_default WHERE ts >= $1 AND ts < $2 RETURNING *) INSERT INTO telemetry_p20261104 SELECT * FROM moved', [iso(day), iso(day + 86_400_000)])
      const again = newPersist(pool)
      const redelivered = again.persist(messages)
      redelivered.catch(() => {})
      await waitingOnLock('tpipe-test-redelivery', 'the redelivery waiting on the moved rows')
      // If ATTACH were the victim instead, end the transaction so the redelivery is not left waiting.
      const attach = maint
        .query(`ALTER TABLE telemetry ATTACH PARTITION telemetry_p20261104 FOR VALUES FROM ('${iso(day)}') TO ('${iso(day + 86_400_000)}')`)
        .then(
          () => maint.query('COMMIT'),
          async (e: Error) => {
            await maint.query('ROLLBACK')
            throw e
          },
        )
      await redelivered // before the fix: rejected, "deadlock detected"
      await attach
      expect(await retries(again.registry, 'deadlock')).toBe(1) // the race really happened
      expect(await rowsOf(messages)).toEqual({ n: 40, distinct: 40, partitions: ['telemetry_p20261104'] })
      expect(await deadLetters()).toBe(0)
    } finally {
      await maint.end()
      await pool.end()
    }
  })

  it('the move takes its locks in PostgreSQL\'s order (parent, then default partition): an ANALYZE of telemetry beside it waits, neither deadlocks', async () => {
    // Found in review: with the default partition locked first, ANALYZE (parent first, then each partition)
    // and the move's ATTACH (parent) waited on each other.
    const day = DAY + 2 * 86_400_000
    const messages = lease(10, 'analyze', day)
    await newPersist().persist(messages)
    await holdMovesAfterDelete()
    const holder = await client()
    const maint = await client()
    const analyzer = new pg.Client({ connectionString: db.url, application_name: 'tpipe-test-analyze' })
    await analyzer.connect()
    try {
      await holder.query('SELECT pg_advisory_lock(4242)')
      const moving = maint.query("SELECT tpipe_ensure_partition('telemetry', 'ts', $1, $2) AS name", [iso(day), iso(day + 86_400_000)])
      moving.catch(() => {})
      await waitingOnLock('tpipe-test-maintenance', 'the move held after its DELETE')
      const analyzing = analyzer.query('ANALYZE telemetry')
      analyzing.catch(() => {})
      await waitingOnLock('tpipe-test-analyze', 'ANALYZE waiting')
      await holder.query('SELECT pg_advisory_unlock(4242)')
      // Default partition first: ANALYZE (1 s deadlock check) failed with "deadlock detected".
      await analyzing
      expect((await moving).rows[0].name).toBe('telemetry_p20261105')
      expect(await rowsOf(messages)).toEqual({ n: 10, distinct: 10, partitions: ['telemetry_p20261105'] })
    } finally {
      await holder.end()
      await maint.end()
      await analyzer.end()
      await releaseMoves()
    }
  })
})

describe('a redelivered lease', () => {
  it('is written first without ON CONFLICT, fails on the stored rows, and is written again skipping them: each row once, the new ones stored', async () => {
    const today = Date.now() - 60_000
    const first = lease(30, 'redeliver', today - 3_600_000)
    const { registry, persist } = newPersist()
    await persist(first)
    // The same messages again with new ones among them (a lease put together differently the second time).
    const more = lease(20, 'redeliver-more', today - 3_600_000)
    await persist([...first.slice(0, 10), ...more.slice(0, 10), ...first.slice(10), ...more.slice(10)])
    expect(await rowsOf([...first, ...more])).toMatchObject({ n: 50, distinct: 50 })
    expect(await metricValue(registry, 'collector_persist_duplicates_total')).toBe(1)
    expect(await metricValue(registry, 'collector_rows_persisted_total')).toBe(50)
    // A lease of rows all stored already: no error, nothing added.
    await persist(more)
    expect(await metricValue(registry, 'collector_persist_duplicates_total')).toBe(2)
    expect(await metricValue(registry, 'collector_rows_persisted_total')).toBe(50)
    expect(await deadLetters()).toBe(0)
  })
})
