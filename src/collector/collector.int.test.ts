import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/index.js'
import { createPool, type Pool } from '../db/pool.js'
import { metricValue } from '../metrics/index.js'
import { buildMqwriter } from '../mqwriter/app.js'
import { parsePartitions } from '../partitions/ranges.js'
import { payload, postJson, seed, silent, startReader, waitFor, type RunningReader } from '../mqreader/test-support.js'
import { createTestDatabase, type TestDatabase } from '../testing/db.js'
import { startProxy, viaProxy } from '../testing/proxy.js'
import type { LeasedMessage } from '../protocol/lease.js'
import { buildCollector, type CollectorApp, type CollectorConfig } from './app.js'

let db: TestDatabase

beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.drop()
})

function collectorConfig(readers: string[], overrides: Partial<CollectorConfig> = {}): CollectorConfig {
  return { ...loadConfig({ readers: readers.join(',') }, {}, 'collector'), metricsEnabled: false, collectorLeaseWaitMs: 500, ...overrides }
}

async function startCollector(
  readers: RunningReader[],
  overrides: Partial<CollectorConfig> = {},
  pool: Pool = db.pool,
  onLease?: (messages: readonly LeasedMessage[]) => void,
): Promise<CollectorApp> {
  const c = buildCollector(collectorConfig(readers.map((r) => r.url), overrides), { pool, logger: silent, ...(onLease ? { onLease } : {}) })
  await c.start()
  return c
}

async function count(table: string): Promise<number> {
  return Number((await db.pool.query(`SELECT count(*) FROM ${table}`)).rows[0].count)
}

async function reset(): Promise<void> {
  await db.pool.query('DELETE FROM queue_messages; DELETE FROM telemetry; DELETE FROM dead_letters')
}

describe('collector', () => {
  it('N messages through mqwriter, 2 readers splitting the range, 3 collectors: exactly N telemetry rows, queue empty', async () => {
    await reset()
    const writer = buildMqwriter({ ...loadConfig({}, {}, 'mqwriter'), metricsEnabled: false }, { pool: db.pool, logger: silent })
    const writerUrl = await writer.app.listen({ host: '127.0.0.1', port: 0 })
    const r1 = await startReader(db, { partitions: parsePartitions('0-127'), readerName: 'r1' })
    const r2 = await startReader(db, { partitions: parsePartitions('128-255'), readerName: 'r2' })
    const collectors = await Promise.all([0, 1, 2].map(() => startCollector([r1, r2], { collectorLeaseSize: 300 })))
    try {
      const N = 6000
      const gpus = Array.from({ length: 40 }, (_, i) => `GPU-pipe-${i}`)
      const published: string[] = []
      // Publish while the collectors already run, 100 per request, 4 requests in flight.
      const batches = Array.from({ length: N / 100 }, (_, b) => Array.from({ length: 100 }, (_, i) => {
        const g = gpus[(b * 100 + i) % gpus.length]!
        return { key: g, payload: payload(g, b * 100 + i) }
      }))
      for (let i = 0; i < batches.length; i += 4) {
        const answers = await Promise.all(batches.slice(i, i + 4).map((body) => postJson(`${writerUrl}/v1/publish`, body)))
        for (const a of answers) {
          expect(a.status).toBe(201)
          published.push(...a.body.msg_uuids)
        }
      }
      await waitFor(async () => ((await count('telemetry')) === N && (await count('queue_messages')) === 0 ? true : undefined), 60_000, 'all rows persisted')
      const rows = await db.pool.query<{ msg_uuid: string }>('SELECT msg_uuid FROM telemetry')
      expect(new Set(rows.rows.map((r) => r.msg_uuid))).toEqual(new Set(published))
      let persisted = 0
      for (const c of collectors) persisted += await metricValue(c.registry, 'collector_rows_persisted_total')
      expect(persisted).toBe(N)
      // Both readers served, both acked.
      expect(r1.owner.acked).toBeGreaterThan(0)
      expect(r2.owner.acked).toBeGreaterThan(0)
      expect(r1.owner.acked + r2.owner.acked).toBe(N)
    } finally {
      for (const c of collectors) await c.stop()
      await r1.close()
      await r2.close()
      await writer.app.close()
    }
  })

  it('per-GPU order: a single collector receives each partition’s messages in enqueue order', async () => {
    await reset()
    const r1 = await startReader(db, { partitions: parsePartitions('0-127'), readerName: 'o1', readerLoadBatch: 500, readerLowWater: 400, readerMaxMessages: 2000 })
    const r2 = await startReader(db, { partitions: parsePartitions('128-255'), readerName: 'o2', readerLoadBatch: 500, readerLowWater: 400, readerMaxMessages: 2000 })
    const got = new Map<number, string[]>()
    const c = await startCollector([r1, r2], { collectorLeasesInFlight: 1, collectorLeaseSize: 173 }, db.pool, (messages) => {
      for (const m of messages) got.set(m.partition, [...(got.get(m.partition) ?? []), m.msg_uuid])
    })
    try {
      const gpus = Array.from({ length: 30 }, (_, i) => `GPU-ord-${i}`)
      const seeded = await seed(db.pool, Array.from({ length: 4000 }, (_, i) => ({ key: gpus[i % gpus.length]!, payload: payload(gpus[i % gpus.length]!, i) })))
      await waitFor(async () => ((await count('queue_messages')) === 0 && (await count('telemetry')) === 4000 ? true : undefined), 30_000, 'drained')
      const expected = new Map<number, string[]>()
      for (const s of seeded) expected.set(s.partition, [...(expected.get(s.partition) ?? []), s.msg_uuid])
      expect(got).toEqual(expected)
    } finally {
      await c.stop()
      await r1.close()
      await r2.close()
    }
  })

  it('a lease that is never acked reaches another collector after the visibility timeout; the late ack gets 409; no duplicate', async () => {
    await reset()
    const r = await startReader(db, { partitions: parsePartitions('0-255') })
    try {
      const seeded = await seed(db.pool, Array.from({ length: 50 }, (_, i) => ({ key: `GPU-v-${i % 5}`, payload: payload(`GPU-v-${i % 5}`, i) })))
      // A stuck collector: leases everything for 1 s and never acks.
      const stuck = await waitFor(async () => {
        const x = await postJson(`${r.url}/v1/lease`, { max: 100, visibility_timeout_ms: 1000, wait_ms: 1000 })
        return x.body.messages?.length === 50 ? x : undefined
      })
      const c = await startCollector([r])
      try {
        await waitFor(async () => ((await count('telemetry')) === 50 && (await count('queue_messages')) === 0 ? true : undefined), 20_000, 'redelivered rows persisted')
        const late = await postJson(`${r.url}/v1/ack`, { lease_id: stuck.body.lease_id })
        expect(late.status).toBe(409)
        expect(late.body.error.code).toBe('TPIPE_ERR_LEASE_EXPIRED')
        const rows = await db.pool.query<{ msg_uuid: string }>('SELECT msg_uuid FROM telemetry')
        expect(rows.rows.map((x) => x.msg_uuid).sort()).toEqual(seeded.map((s) => s.msg_uuid).sort())
        expect(r.owner.leasesExpired).toBeGreaterThanOrEqual(1)
      } finally {
        await c.stop()
      }
    } finally {
      await r.close()
    }
  })

  it('a poison message goes to dead_letters with its error, is acked, and the pipeline goes on', async () => {
    await reset()
    const r = await startReader(db, { partitions: parsePartitions('0-255') })
    const c = await startCollector([r])
    try {
      const good = Array.from({ length: 20 }, (_, i) => ({ key: 'GPU-p', payload: payload('GPU-p', i) }))
      const bad = [
        { key: 'GPU-p', payload: { ...payload('GPU-p', 100), value: 'not a number' } },
        { key: 'GPU-p', payload: { hello: 'world' } },
      ]
      const seeded = await seed(db.pool, [...good.slice(0, 10), ...bad, ...good.slice(10)])
      await waitFor(async () => ((await count('queue_messages')) === 0 && (await count('telemetry')) === 20 ? true : undefined), 20_000, 'pipeline drained')
      const dl = await db.pool.query<{ msg_uuid: string; error: string; delivery_count: number; payload: unknown }>('SELECT msg_uuid, error, delivery_count, payload FROM dead_letters ORDER BY msg_uuid')
      expect(dl.rows.map((x) => x.msg_uuid).sort()).toEqual([seeded[10]!.msg_uuid, seeded[11]!.msg_uuid].sort())
      const byUuid = new Map(dl.rows.map((x) => [x.msg_uuid, x]))
      expect(byUuid.get(seeded[10]!.msg_uuid)!.error).toMatch(/value/)
      expect(byUuid.get(seeded[11]!.msg_uuid)!.payload).toEqual({ hello: 'world' })
      expect(await metricValue(c.registry, 'collector_dead_letters_total')).toBe(2)
      expect((await c.app.inject('/v1/stats')).json()).toMatchObject({ running: true, rows_persisted_total: 20, dead_letters_total: 2, messages_received_total: 22 })
      // More good messages keep flowing after the poison.
      await seed(db.pool, [{ key: 'GPU-p', payload: payload('GPU-p', 999) }])
      await waitFor(async () => ((await count('telemetry')) === 21 ? true : undefined), 20_000, 'later message persisted')
    } finally {
      await c.stop()
      await r.close()
    }
  })

  it('a persist that fails is never acked: the messages come again and land once the database is back', async () => {
    await reset()
    const u = new URL(db.url)
    const proxy = await startProxy(u.hostname, Number(u.port))
    const flaky = createPool(viaProxy(db.url, proxy.port), { max: 4, connectionTimeoutMs: 1000 })
    const r = await startReader(db, { partitions: parsePartitions('0-255') })
    try {
      await proxy.cut()
      const c = await startCollector([r], { collectorLeaseVisibilityMs: 1000, collectorErrorBackoffMs: 50 }, flaky)
      try {
        const seeded = await seed(db.pool, Array.from({ length: 30 }, (_, i) => ({ key: `GPU-f-${i % 3}`, payload: payload(`GPU-f-${i % 3}`, i) })))
        await waitFor(async () => ((await metricValue(c.registry, 'collector_persist_failures_total')) > 0 ? true : undefined), 20_000, 'a failed persist')
        expect(await count('telemetry')).toBe(0)
        expect(await count('queue_messages')).toBe(30) // not acked
        await proxy.restore()
        await waitFor(async () => ((await count('telemetry')) === 30 && (await count('queue_messages')) === 0 ? true : undefined), 30_000, 'persisted after recovery')
        const rows = await db.pool.query<{ msg_uuid: string }>('SELECT msg_uuid FROM telemetry')
        expect(rows.rows.map((x) => x.msg_uuid).sort()).toEqual(seeded.map((s) => s.msg_uuid).sort())
        expect(r.owner.redelivered).toBeGreaterThan(0)
      } finally {
        await c.stop()
      }
    } finally {
      await r.close()
      await flaky.end()
      await proxy.close()
    }
  })
})
