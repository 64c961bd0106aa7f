// Issue 13 item 4: a collector hands back the leases it has not persisted and acked (POST /v1/release)
// when it stops or stops using a reader, instead of leaving them to the visibility timeout (30 s here)
// or to the reader's drain deadline (10 s). Real PostgreSQL; a persist is held up for real by a table
// lock a test transaction takes on telemetry.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/index.js'
import { createPool, type Pool } from '../db/pool.js'
import { metricValue } from '../metrics/index.js'
import { parsePartitions } from '../partitions/ranges.js'
import type { LeasedMessage } from '../protocol/lease.js'
import { keyFor, payload, postJson, seed, silent, startReader, type RunningReader } from '../../test/support/mqreader.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { startProxy, viaProxy } from '../../test/support/proxy.js'
import { waitFor } from '../util/async.js'
import { buildCollector, type CollectorApp, type CollectorConfig } from './app.js'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.drop()
})

// Leases asked for 30 s: a message seen again within a few seconds was handed back, not expired.
const VISIBILITY_MS = 30_000

async function startCollector(readers: RunningReader[], overrides: Partial<CollectorConfig>, pool: Pool, onLease?: (m: readonly LeasedMessage[]) => void): Promise<CollectorApp> {
  const config: CollectorConfig = {
    ...loadConfig({ readers: readers.map((r) => r.url).join(',') }, {}, 'collector'),
    metricsEnabled: false,
    collectorLeaseWaitMs: 500,
    collectorLeaseVisibilityMs: VISIBILITY_MS,
    collectorLeaseSize: 1000,
    ...overrides,
  }
  const c = buildCollector(config, { pool, logger: silent, ...(onLease ? { onLease } : {}) })
  await c.start()
  return c
}

async function count(table: string): Promise<number> {
  return Number((await db.pool.query(`SELECT count(*) FROM ${table}`)).rows[0].count)
}

/** Holds telemetry's inserts (ROW EXCLUSIVE) until release(): a persist that hangs, for real. */
async function blockInserts(): Promise<{ release(): Promise<void> }> {
  const c = new pg.Client({ connectionString: db.url })
  await c.connect()
  await c.query('BEGIN')
  await c.query('LOCK TABLE telemetry IN SHARE ROW EXCLUSIVE MODE')
  let done = false
  return {
    async release() {
      if (done) return
      done = true
      await c.query('COMMIT')
      await c.end()
    },
  }
}

/** Records when each msg_uuid was first received (onLease of a second collector). */
function recorder() {
  const seen = new Map<string, number>()
  return { seen, onLease: (ms: readonly LeasedMessage[]) => ms.forEach((m) => seen.has(m.msg_uuid) || seen.set(m.msg_uuid, Date.now())) }
}

async function exactlyOnce(seeded: { msg_uuid: string }[], state?: () => unknown): Promise<void> {
  await waitFor(async () => ((await count('telemetry')) === seeded.length && (await count('queue_messages')) === 0 ? true : undefined), { timeoutMs: 30_000, what: 'every message persisted and acked' }).catch(async (e: Error) => {
    // Say where it stood: rows, queue, and the readers' view (a stall here was once a deadlock victim's lease).
    throw new Error(`${e.message}: telemetry ${await count('telemetry')}, queue ${await count('queue_messages')}, ${JSON.stringify(state?.())}`)
  })
  const rows = await db.pool.query<{ msg_uuid: string }>('SELECT msg_uuid FROM telemetry')
  expect(rows.rows.map((r) => r.msg_uuid).sort()).toEqual(seeded.map((s) => s.msg_uuid).sort())
}

async function reset(): Promise<void> {
  await db.pool.query('DELETE FROM queue_messages; DELETE FROM telemetry; DELETE FROM dead_letters')
}

describe('collector hands leases back', () => {
  it('a collector stopped while holding leases: they are delivered again within seconds (its stop has 1.5 s), not after the 30 s visibility timeout; each message lands once', async () => {
    await reset()
    // A short drain bound: only so that closing the reader cannot outlast the test's hooks if leases stay out.
    const r = await startReader(db, { partitions: parsePartitions('0-255'), readerName: 'stopper', readerDrainTimeoutMs: 2000 })
    const pool1 = createPool(db.url, { max: 4 })
    const gpus = Array.from({ length: 10 }, (_, i) => `GPU-stop-${i}`)
    const seeded = await seed(db.pool, Array.from({ length: 300 }, (_, i) => ({ key: gpus[i % 10]!, payload: payload(gpus[i % 10]!, i) })))
    const lock = await blockInserts()
    let c1: CollectorApp | undefined
    let c2: CollectorApp | undefined
    try {
      // c1 leases everything; its persists hang on the lock. Its stop has 1.5 s in all.
      c1 = await startCollector([r], { collectorLeasesInFlight: 3, shutdownTimeoutMs: 1500 }, pool1)
      await waitFor(() => (r.owner.leasedMessages === 300 ? true : undefined), { timeoutMs: 10_000, what: 'c1 holds every message' })
      const rec = recorder()
      c2 = await startCollector([r], { collectorLeasesInFlight: 1 }, db.pool, rec.onLease)
      const stoppedAt = Date.now()
      const stopping = c1.stop()
      await waitFor(() => (rec.seen.size === 300 ? true : undefined), { timeoutMs: 20_000, what: 'every message delivered again to c2' })
      const again = Math.max(...rec.seen.values()) - stoppedAt
      // ~1.2–2 s on a quiet machine; the bound leaves room for a loaded CI while staying far from 30 s.
      expect(again).toBeLessThan(10_000)
      expect(await metricValue(c1.registry, 'collector_messages_released_total')).toBe(300)
      expect((await c1.app.inject('/v1/stats')).json()).toMatchObject({ messages_released_total: 300 })
      expect(r.owner.stats()).toMatchObject({ leases_released_total: 1, messages_released_total: 300, leases_expired_total: 0 })
      // Now both persists go through (c1's hung one and c2's): ON CONFLICT keeps one row each; c1 does
      // not ack what it released, c2 acks.
      await lock.release()
      await stopping
      await exactlyOnce(seeded)
      expect(await metricValue(c2.registry, 'collector_rows_persisted_total') + (await metricValue(c1.registry, 'collector_rows_persisted_total'))).toBe(300)
    } finally {
      await lock.release()
      await c1?.stop()
      await c2?.stop()
      await r.close()
      await pool1.end()
    }
  })

  it('a reader giving up a partition while a stopping collector holds its leases: handed over at once, well under the 10 s drain bound', async () => {
    await reset()
    const a = await startReader(db, { partitions: parsePartitions('0-255'), readerName: 'a', readerDrainTimeoutMs: 10_000 })
    await waitFor(async () => ((await a.app.inject('/v1/assignment')).json().owned === '0-255' ? true : undefined), { timeoutMs: 10_000, what: 'a holds 0-255' })
    const b = await startReader(db, { partitions: [7], readerName: 'b' })
    const pool1 = createPool(db.url, { max: 4 })
    const key = keyFor(7)
    const seeded = await seed(db.pool, Array.from({ length: 50 }, (_, i) => ({ key, payload: payload(key, i) })))
    const lock = await blockInserts()
    let c1: CollectorApp | undefined
    let c2: CollectorApp | undefined
    try {
      c1 = await startCollector([a], { collectorLeasesInFlight: 1, shutdownTimeoutMs: 1500 }, pool1)
      await waitFor(() => (a.owner.leasedMessages === 50 ? true : undefined), { timeoutMs: 10_000, what: 'c1 holds every message' })
      // a loses partition 7: it drains (its lease is out), b waits for the lock.
      expect((await postJson(`${a.url}/v1/assignment`, { partitions: '0-6,8-255', generation: 1 }, 'PUT')).status).toBe(200)
      await waitFor(async () => ((await b.app.inject('/v1/assignment')).json().waiting === '7' ? true : undefined), { timeoutMs: 5000, what: 'b waiting for 7' })
      expect((await a.app.inject('/v1/assignment')).json().draining).toBe('7')
      const stoppedAt = Date.now()
      const stopping = c1.stop()
      await waitFor(async () => ((await b.app.inject('/v1/assignment')).json().owned === '7' ? true : undefined), { timeoutMs: 9000, what: 'b owns partition 7' })
      // ~1.3 s on a quiet machine; well under the 10 s drain bound it waited for before.
      expect(Date.now() - stoppedAt).toBeLessThan(7000)
      await lock.release()
      await stopping
      c2 = await startCollector([a, b], { collectorLeasesInFlight: 1 }, db.pool)
      await exactlyOnce(seeded, () => ({ a: a.owner.stats(), b: b.owner.stats() }))
      expect(b.owner.acked).toBe(50)
    } finally {
      await lock.release()
      await c1?.stop()
      await c2?.stop()
      await a.close()
      await b.close()
      await pool1.end()
    }
  })

  it('a reader leaving the readers file: leases from it the collector is not persisting (a failed persist) go back at once', async () => {
    await reset()
    const dir = mkdtempSync(join(tmpdir(), 'tpipe-readers-'))
    const file = join(dir, 'readers')
    const u = new URL(db.url)
    const proxy = await startProxy(u.hostname, Number(u.port))
    const flaky = createPool(viaProxy(db.url, proxy.port), { max: 4, connectionTimeoutMs: 1000 })
    const r = await startReader(db, { partitions: parsePartitions('0-255'), readerName: 'leaving', readerDrainTimeoutMs: 2000 })
    let c: CollectorApp | undefined
    try {
      writeFileSync(file, `${r.url}\n`)
      const seeded = await seed(db.pool, Array.from({ length: 20 }, (_, i) => ({ key: `GPU-leave-${i % 4}`, payload: payload(`GPU-leave-${i % 4}`, i) })))
      await proxy.cut()
      c = await startCollector([r], { collectorLeasesInFlight: 1, collectorReadersFile: file, collectorResolveIntervalMs: 100, collectorErrorBackoffMs: 200 }, flaky)
      await waitFor(async () => ((await metricValue(c!.registry, 'collector_persist_failures_total')) > 0 ? true : undefined), { timeoutMs: 20_000, what: 'a failed persist' })
      expect(r.owner.leasedMessages).toBe(20)
      const removedAt = Date.now()
      writeFileSync(file, '# no readers\n')
      await waitFor(() => (r.owner.leasedMessages === 0 && r.owner.readyMessages === 20 ? true : undefined), { timeoutMs: 15_000, what: 'the leases handed back' })
      expect(Date.now() - removedAt).toBeLessThan(10_000) // < 1 s quiet; the leases are 30 s
      // Counted once the reader's answer is in (a moment after the reader changed its state).
      await waitFor(async () => ((await metricValue(c!.registry, 'collector_messages_released_total')) === 20 ? true : undefined), { timeoutMs: 2000, what: 'released counted' })
      // Another consumer gets them, first delivery as far as the count goes.
      const got = await postJson(`${r.url}/v1/lease`, { max: 100 })
      expect(got.body.messages.map((m: LeasedMessage) => m.msg_uuid).sort()).toEqual(seeded.map((s) => s.msg_uuid).sort())
      expect(got.body.messages.every((m: LeasedMessage) => m.delivery_count === 1)).toBe(true)
      // Handed back too, so the reader's close does not wait out its drain bound for them.
      expect((await postJson(`${r.url}/v1/release`, { lease_ids: [got.body.lease_id] })).body.released_messages).toBe(20)
    } finally {
      await proxy.restore()
      await c?.stop()
      await r.close()
      await flaky.end()
      await proxy.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a lease that arrives from a reader after it left the readers file is handed back, not persisted', async () => {
    await reset()
    const dir = mkdtempSync(join(tmpdir(), 'tpipe-readers-'))
    const file = join(dir, 'readers')
    const r = await startReader(db, { partitions: parsePartitions('0-255'), readerName: 'late', readerDrainTimeoutMs: 2000 })
    let c: CollectorApp | undefined
    try {
      writeFileSync(file, `${r.url}\n`)
      // Nothing queued: the collector's one worker is soon long-polling the reader (5 s).
      c = await startCollector([r], { collectorLeasesInFlight: 1, collectorLeaseWaitMs: 5000, collectorReadersFile: file, collectorResolveIntervalMs: 100 }, db.pool)
      await new Promise((res) => setTimeout(res, 300))
      writeFileSync(file, '# no readers\n')
      await waitFor(async () => ((await c!.app.inject('/v1/stats')).json().readers.length === 0 ? true : undefined), { timeoutMs: 5000, what: 'the reader left the set' })
      // The long-poll is still on its way; messages arrive and answer it.
      const seeded = await seed(db.pool, Array.from({ length: 10 }, (_, i) => ({ key: `GPU-late-${i % 2}`, payload: payload(`GPU-late-${i % 2}`, i) })))
      await waitFor(async () => ((await metricValue(c!.registry, 'collector_messages_received_total')) === 10 ? true : undefined), { timeoutMs: 8000, what: 'the long-poll answered' })
      await waitFor(() => (r.owner.leasedMessages === 0 && r.owner.readyMessages === 10 ? true : undefined), { timeoutMs: 10_000, what: 'the lease handed back' })
      await waitFor(async () => ((await metricValue(c!.registry, 'collector_messages_released_total')) === 10 ? true : undefined), { timeoutMs: 2000, what: 'released counted' })
      expect(await count('telemetry')).toBe(0)
      const got = await postJson(`${r.url}/v1/lease`, { max: 100 })
      expect(got.body.messages.map((m: LeasedMessage) => m.msg_uuid).sort()).toEqual(seeded.map((x) => x.msg_uuid).sort())
      expect((await postJson(`${r.url}/v1/release`, { lease_ids: [got.body.lease_id] })).status).toBe(200)
    } finally {
      await c?.stop()
      await r.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
