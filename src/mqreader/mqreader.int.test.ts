import { mkdtempSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { startProxy, viaProxy } from '../../test/support/proxy.js'
import { createPool } from '../db/pool.js'
import { parsePartitions } from '../partitions/ranges.js'
import type { OwnerEvent } from './owner.js'
import { keyFor, payload, postJson, seed, startReader, type RunningReader } from '../../test/support/mqreader.js'
import { waitFor } from '../util/async.js'

let db: TestDatabase

beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.drop()
})

async function clearQueue(): Promise<void> {
  await db.pool.query('DELETE FROM queue_messages')
}

async function queueCount(): Promise<number> {
  return Number((await db.pool.query('SELECT count(*) FROM queue_messages')).rows[0].count)
}

/** Leases everything available (acking each lease), returns the msg_uuids in delivery order. */
async function drainAll(reader: RunningReader, opts: { max?: number; idleMs?: number } = {}): Promise<{ msg_uuid: string; key: string; partition: number; delivery_count: number }[]> {
  const got: { msg_uuid: string; key: string; partition: number; delivery_count: number }[] = []
  for (;;) {
    const r = await postJson(`${reader.url}/v1/lease`, { max: opts.max ?? 500, wait_ms: opts.idleMs ?? 500 })
    expect(r.status).toBe(200)
    if (r.body.messages.length === 0) return got
    got.push(...r.body.messages)
    const a = await postJson(`${reader.url}/v1/ack`, { lease_id: r.body.lease_id })
    expect(a.status).toBe(200)
  }
}

describe('mqreader lease and ack', () => {
  it('leases with the documented shape, acks by DELETE, answers 200 [] when empty', async () => {
    await clearQueue()
    const reader = await startReader(db, { partitions: parsePartitions('0-255') })
    try {
      await waitFor(async () => (await reader.app.inject('/readyz')).statusCode === 200, { timeoutMs: 10_000, what: 'ready' })
      const seeded = await seed(db.pool, [0, 1, 2].map((i) => ({ key: 'GPU-a', payload: payload('GPU-a', i) })))
      const r = await waitFor(async () => {
        const x = await postJson(`${reader.url}/v1/lease`, { max: 10, wait_ms: 2000 })
        return x.body.messages?.length === 3 ? x : undefined
      })
      expect(r.status).toBe(200)
      expect(r.body.lease_id).toEqual(expect.any(String))
      expect(Date.parse(r.body.expires_at)).toBeGreaterThan(Date.now())
      const m = r.body.messages[0]
      expect(m).toEqual({
        msg_uuid: seeded[0]!.msg_uuid,
        key: 'GPU-a',
        partition: seeded[0]!.partition,
        payload: payload('GPU-a', 0),
        enqueued_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
        delivery_count: 1,
      })
      // partial ack, then the rest
      const a1 = await postJson(`${reader.url}/v1/ack`, { lease_id: r.body.lease_id, msg_uuids: [seeded[1]!.msg_uuid] })
      expect(a1).toEqual({ status: 200, body: { acked: 1 } })
      expect(await queueCount()).toBe(2)
      const a2 = await postJson(`${reader.url}/v1/ack`, { lease_id: r.body.lease_id })
      expect(a2).toEqual({ status: 200, body: { acked: 2 } })
      expect(await queueCount()).toBe(0)
      // the lease is gone now
      const a3 = await postJson(`${reader.url}/v1/ack`, { lease_id: r.body.lease_id })
      expect(a3.status).toBe(409)
      expect(a3.body.error.code).toBe('TPIPE_ERR_LEASE_EXPIRED')
      const empty = await postJson(`${reader.url}/v1/lease`, { max: 10 })
      expect(empty).toEqual({ status: 200, body: { lease_id: null, expires_at: null, messages: [] } })
      const stats = (await reader.app.inject('/v1/stats')).json()
      expect(stats).toMatchObject({ partitions_owned: 256, ready: 0, leased: 0, acked_total: 3, generation: 0 })
      const metrics = (await reader.app.inject('/metrics')).body
      expect(metrics).toMatch(/mqreader_messages_acked_total 3/)
      expect(metrics).toMatch(/mqreader_partitions_owned 256/)
    } finally {
      await reader.close()
    }
  })

  it('answers 400 with the JSON error body to bad requests and loses nothing', async () => {
    await clearQueue()
    const reader = await startReader(db, { partitions: parsePartitions('0-255'), readerLeaseMax: 100 })
    try {
      await seed(db.pool, [{ key: 'GPU-b', payload: payload('GPU-b', 1) }])
      for (const [path, body] of [
        ['/v1/lease', {}],
        ['/v1/lease', { max: 0 }],
        ['/v1/lease', { max: 101 }],
        ['/v1/lease', { max: 1, wait_ms: -1 }],
        ['/v1/lease', { max: 1, extra: true }],
        ['/v1/lease', '{not json'],
        ['/v1/ack', {}],
        ['/v1/ack', { lease_id: 'x', msg_uuids: ['not-a-uuid'] }],
        ['/v1/ack', { lease_id: {} }],
      ] as const) {
        const r = await postJson(`${reader.url}${path}`, body)
        expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400)
        expect(r.body.error.code).toMatch(/^TPIPE_ERR_(VALIDATION|BAD_JSON)$/)
      }
      const put = await postJson(`${reader.url}/v1/assignment`, { partitions: '5-3', generation: 1 }, 'PUT')
      expect(put.status).toBe(400)
      const put2 = await postJson(`${reader.url}/v1/assignment`, { partitions: [0, 300], generation: 1 }, 'PUT')
      expect(put2.status).toBe(400)
      const got = await drainAll(reader, { max: 100 })
      expect(got).toHaveLength(1)
    } finally {
      await reader.close()
    }
  })

  it('coalesces acks that arrive together into one DELETE, answering each after it commits', async () => {
    await clearQueue()
    let deletes = 0
    const counting = new Proxy(db.pool, {
      get(target, key) {
        if (key === 'query') {
          return (q: { name?: string }, ...rest: unknown[]) => {
            if (q?.name === 'mqreader_delete') deletes++
            return (target.query as (...a: unknown[]) => unknown)(q, ...rest)
          }
        }
        const v = Reflect.get(target, key) as unknown
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
      },
    })
    const reader = await startReader({ pool: counting, url: db.url }, { partitions: parsePartitions('0-255'), readerAckDelayMs: 1000 })
    try {
      await seed(db.pool, Array.from({ length: 50 }, (_, i) => ({ key: `GPU-co-${i % 7}`, payload: payload(`GPU-co-${i % 7}`, i) })))
      await waitFor(async () => ((await reader.app.inject('/v1/stats')).json().ready === 50 ? true : undefined), { timeoutMs: 10_000, what: 'loaded' })
      const leases = []
      for (let i = 0; i < 5; i++) leases.push((await postJson(`${reader.url}/v1/lease`, { max: 10 })).body.lease_id as string)
      const acks = await Promise.all(leases.map((id) => postJson(`${reader.url}/v1/ack`, { lease_id: id })))
      expect(acks.map((a) => a.body)).toEqual(Array(5).fill({ acked: 10 }))
      expect(deletes).toBe(1)
      expect(await queueCount()).toBe(0)
    } finally {
      await reader.close()
    }
  })

  it('an expired lease is delivered again with delivery_count + 1; its late ack gets 409', async () => {
    await clearQueue()
    const reader = await startReader(db, { partitions: parsePartitions('0-255') })
    try {
      const seeded = await seed(db.pool, [0, 1, 2, 3].map((i) => ({ key: 'GPU-c', payload: payload('GPU-c', i) })))
      const first = await waitFor(async () => {
        const x = await postJson(`${reader.url}/v1/lease`, { max: 10, visibility_timeout_ms: 300, wait_ms: 1000 })
        return x.body.messages?.length === 4 ? x : undefined
      })
      const again = await waitFor(async () => {
        const x = await postJson(`${reader.url}/v1/lease`, { max: 10, wait_ms: 1000 })
        return x.body.messages?.length > 0 ? x : undefined
      }, { timeoutMs: 10_000, what: 'redelivery' })
      expect(again.body.messages.map((m: { msg_uuid: string }) => m.msg_uuid)).toEqual(seeded.map((s) => s.msg_uuid))
      expect(again.body.messages.every((m: { delivery_count: number }) => m.delivery_count === 2)).toBe(true)
      const late = await postJson(`${reader.url}/v1/ack`, { lease_id: first.body.lease_id })
      expect(late.status).toBe(409)
      expect(late.body.error.code).toBe('TPIPE_ERR_LEASE_EXPIRED')
      expect(await queueCount()).toBe(4)
      expect((await postJson(`${reader.url}/v1/ack`, { lease_id: again.body.lease_id })).status).toBe(200)
      expect(await queueCount()).toBe(0)
      expect((await reader.app.inject('/v1/stats')).json()).toMatchObject({ leases_expired_total: 1, redelivered_total: 4 })
    } finally {
      await reader.close()
    }
  })

  it('long-polls: a waiting lease is answered as soon as messages arrive', async () => {
    await clearQueue()
    const reader = await startReader(db, { partitions: parsePartitions('0-255') })
    try {
      await waitFor(async () => (await reader.app.inject('/v1/assignment')).json().waiting === '', { timeoutMs: 10_000, what: 'locks' })
      const pending = postJson(`${reader.url}/v1/lease`, { max: 10, wait_ms: 20_000 })
      await new Promise((r) => setTimeout(r, 200))
      await seed(db.pool, [{ key: 'GPU-d', payload: payload('GPU-d', 1) }])
      const r = await pending
      expect(r.body.messages).toHaveLength(1)
      await postJson(`${reader.url}/v1/ack`, { lease_id: r.body.lease_id })
    } finally {
      await reader.close()
    }
  })

  it('one slow lease does not stop the rest of its partition', async () => {
    await clearQueue()
    const reader = await startReader(db, { partitions: parsePartitions('0-255'), readerLowWater: 50, readerLoadBatch: 100, readerMaxMessages: 400 })
    try {
      const key = keyFor(7)
      const seeded = await seed(db.pool, Array.from({ length: 1000 }, (_, i) => ({ key, payload: payload(key, i) })))
      const slow = await waitFor(async () => {
        const x = await postJson(`${reader.url}/v1/lease`, { max: 10, visibility_timeout_ms: 600_000, wait_ms: 1000 })
        return x.body.messages?.length === 10 ? x : undefined
      })
      const rest = await drainAll(reader, { max: 100 })
      expect(rest).toHaveLength(990)
      const all = new Set([...slow.body.messages.map((m: { msg_uuid: string }) => m.msg_uuid), ...rest.map((m) => m.msg_uuid)])
      expect(all).toEqual(new Set(seeded.map((s) => s.msg_uuid)))
      expect(await queueCount()).toBe(10)
      expect((await postJson(`${reader.url}/v1/ack`, { lease_id: slow.body.lease_id })).status).toBe(200)
    } finally {
      await reader.close()
    }
  })

  it('holds at most --max-bytes of messages however large its rows (~100 KB bundles), and still delivers each once, in order', async () => {
    await clearQueue()
    const maxBytes = 1 << 20
    const reader = await startReader(db, { partitions: parsePartitions('0-255'), readerMaxBytes: maxBytes })
    try {
      const keys = [keyFor(3), keyFor(9), keyFor(200)]
      const seeded = await seed(db.pool, Array.from({ length: 60 }, (_, i) => ({ key: keys[i % 3]!, payload: payload(keys[i % 3]!, i, { pad: 'x'.repeat(100_000) }) })))
      const gauge = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec((await reader.app.inject('/metrics')).body)?.[1])
      await waitFor(async () => ((await gauge('mqreader_ready_messages')) > 0 ? true : undefined), { timeoutMs: 10_000, what: 'a refill' })
      await new Promise((r) => setTimeout(r, 500)) // refills that would follow
      // ~6 MB queued; a refill stops at the bound (each row counts its bytes, the first always goes)
      expect(await gauge('mqreader_ready_messages')).toBeLessThanOrEqual(11)
      expect(await gauge('mqreader_held_bytes')).toBeLessThanOrEqual(maxBytes + 101_000)
      expect(await gauge('mqreader_buffer_utilization')).toBeGreaterThan(0.85)
      const got = await drainAll(reader, { max: 7 })
      expect(got.map((m) => m.msg_uuid).sort()).toEqual(seeded.map((m) => m.msg_uuid).sort())
      for (const k of keys) expect(got.filter((m) => m.key === k).map((m) => m.msg_uuid)).toEqual(seeded.filter((m) => m.key === k).map((m) => m.msg_uuid))
      expect(await queueCount()).toBe(0)
    } finally {
      await reader.close()
    }
  })

  it('delivers each partition in enqueue order to a single consumer', async () => {
    await clearQueue()
    const reader = await startReader(db, { partitions: parsePartitions('0-255'), readerLoadBatch: 300, readerLowWater: 200, readerMaxMessages: 1000 })
    try {
      const keys = Array.from({ length: 20 }, (_, i) => `GPU-order-${i}`)
      const msgs: { key: string; payload: unknown }[] = []
      for (let i = 0; i < 3000; i++) msgs.push({ key: keys[i % keys.length]!, payload: payload(keys[i % keys.length]!, i) })
      const seeded = await seed(db.pool, msgs)
      const got = await drainAll(reader, { max: 137 })
      expect(got).toHaveLength(3000)
      const expected = new Map<number, string[]>()
      for (const s of seeded) expected.set(s.partition, [...(expected.get(s.partition) ?? []), s.msg_uuid])
      const actual = new Map<number, string[]>()
      for (const m of got) actual.set(m.partition, [...(actual.get(m.partition) ?? []), m.msg_uuid])
      expect(actual).toEqual(expected)
    } finally {
      await reader.close()
    }
  })

  it('finds rows committed out of id order below its cursor (concurrent writers)', async () => {
    await clearQueue()
    const reader = await startReader(db, { partitions: parsePartitions('0-255') })
    const slowWriter = new pg.Client({ connectionString: db.url })
    await slowWriter.connect()
    try {
      await waitFor(async () => (await reader.app.inject('/v1/assignment')).json().waiting === '', { timeoutMs: 10_000, what: 'locks' })
      // The slow transaction takes a lower id, a later one commits a higher id first and is delivered.
      await slowWriter.query('BEGIN')
      // Same key, so same partition: the late row moves that partition's cursor past the early one.
      const early = await seed(slowWriter as unknown as pg.Pool, [{ key: 'GPU-gap', payload: payload('GPU-gap', 1) }])
      const late = await seed(db.pool, [{ key: 'GPU-gap', payload: payload('GPU-gap', 2) }])
      const firstBatch = await waitFor(async () => {
        const x = await postJson(`${reader.url}/v1/lease`, { max: 10, wait_ms: 1000 })
        return x.body.messages?.length > 0 ? x : undefined
      })
      expect(firstBatch.body.messages.map((m: { msg_uuid: string }) => m.msg_uuid)).toEqual([late[0]!.msg_uuid])
      await postJson(`${reader.url}/v1/ack`, { lease_id: firstBatch.body.lease_id })
      await slowWriter.query('COMMIT')
      const second = await waitFor(async () => {
        const x = await postJson(`${reader.url}/v1/lease`, { max: 10, wait_ms: 1000 })
        return x.body.messages?.length > 0 ? x : undefined
      }, { timeoutMs: 15_000, what: 'the row committed late' })
      expect(second.body.messages.map((m: { msg_uuid: string }) => m.msg_uuid)).toEqual([early[0]!.msg_uuid])
      await postJson(`${reader.url}/v1/ack`, { lease_id: second.body.lease_id })
      expect(await queueCount()).toBe(0)
    } finally {
      await slowWriter.end()
      await reader.close()
    }
  })
  it('an ack whose DELETE fails answers 503 and the messages are delivered again once the database is back', async () => {
    await clearQueue()
    const u = new URL(db.url)
    const proxy = await startProxy(u.hostname, Number(u.port))
    const flaky = createPool(viaProxy(db.url, proxy.port), { max: 4, connectionTimeoutMs: 1000 })
    const reader = await startReader({ pool: flaky, url: db.url }, { partitions: parsePartitions('0-255') })
    try {
      const seeded = await seed(db.pool, [1, 2].map((i) => ({ key: 'GPU-ackfail', payload: payload('GPU-ackfail', i) })))
      const lease = await waitFor(async () => {
        const x = await postJson(`${reader.url}/v1/lease`, { max: 10, wait_ms: 1000 })
        return x.body.messages?.length === 2 ? x : undefined
      })
      await proxy.cut()
      const ack = await postJson(`${reader.url}/v1/ack`, { lease_id: lease.body.lease_id })
      expect(ack.status).toBe(503)
      expect(ack.body.error.code).toBe('TPIPE_ERR_DB_UNAVAILABLE')
      expect(await queueCount()).toBe(2)
      await proxy.restore()
      const again = await waitFor(async () => {
        const x = await postJson(`${reader.url}/v1/lease`, { max: 10, wait_ms: 1000 })
        return x.body.messages?.length === 2 ? x : undefined
      }, { timeoutMs: 15_000, what: 'redelivery after the failed ack' })
      expect(again.body.messages.map((m: { msg_uuid: string }) => m.msg_uuid)).toEqual(seeded.map((x) => x.msg_uuid))
      expect(again.body.messages[0].delivery_count).toBe(2)
      expect((await postJson(`${reader.url}/v1/ack`, { lease_id: again.body.lease_id })).status).toBe(200)
      expect(await queueCount()).toBe(0)
    } finally {
      await reader.close()
      await flaky.end()
      await proxy.close()
    }
  })

  it('drains on close: stops leasing (503), still takes acks, releases its locks, leaves unacked rows for the next owner', async () => {
    await clearQueue()
    const reader = await startReader(db, { partitions: parsePartitions('0-255'), readerDrainTimeoutMs: 1500 })
    // The first reader must hold every lock before the next one starts competing for them.
    await waitFor(async () => ((await reader.app.inject('/v1/assignment')).json().owned === '0-255' ? true : undefined), { timeoutMs: 10_000, what: 'first owner holds 0-255' })
    const next = await startReader(db, { partitions: parsePartitions('0-255'), readerName: 'next' })
    try {
      await seed(db.pool, [1, 2, 3, 4].map((i) => ({ key: 'GPU-drain', payload: payload('GPU-drain', i) })))
      const l1 = await waitFor(async () => {
        const x = await postJson(`${reader.url}/v1/lease`, { max: 2, wait_ms: 1000 })
        return x.body.messages?.length === 2 ? x : undefined
      })
      const l2 = await postJson(`${reader.url}/v1/lease`, { max: 2 })
      expect(l2.body.messages).toHaveLength(2)
      const started = Date.now()
      const closing = reader.close()
      await waitFor(async () => ((await postJson(`${reader.url}/v1/lease`, { max: 1 })).status === 503 ? true : undefined), { timeoutMs: 5000, what: 'leasing refused' })
      const refused = await postJson(`${reader.url}/v1/lease`, { max: 1 })
      expect(refused.body.error.code).toBe('TPIPE_ERR_SHUTTING_DOWN')
      expect((await postJson(`${reader.url}/v1/ack`, { lease_id: l1.body.lease_id })).status).toBe(200)
      // l2 is acked only in part: the drain waits for the rest until its timeout, then lets go.
      expect((await postJson(`${reader.url}/v1/ack`, { lease_id: l2.body.lease_id, msg_uuids: [l2.body.messages[0].msg_uuid] })).status).toBe(200)
      await closing
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400)
      expect(await queueCount()).toBe(1)
      await waitFor(async () => ((await next.app.inject('/v1/assignment')).json().owned === '0-255' ? true : undefined), { timeoutMs: 10_000, what: 'next owner takes over' })
      const rest = await drainAll(next)
      expect(rest.map((m) => m.msg_uuid)).toEqual([l2.body.messages[1].msg_uuid])
      expect(await queueCount()).toBe(0)
    } finally {
      await reader.close()
      await next.close()
    }
  })
})

describe('mqreader ownership', () => {
  it('two readers started with overlapping ranges: each partition is served by exactly one', async () => {
    await clearQueue()
    const a = await startReader(db, { partitions: parsePartitions('0-200'), readerName: 'ra' })
    const b = await startReader(db, { partitions: parsePartitions('100-255'), readerName: 'rb' })
    try {
      await waitFor(async () => {
        const va = (await a.app.inject('/v1/assignment')).json()
        const vb = (await b.app.inject('/v1/assignment')).json()
        return parsePartitions(va.owned).length + parsePartitions(vb.owned).length === 256 ? true : undefined
      }, { timeoutMs: 10_000, what: 'all partitions owned' })
      const ownedA = new Set(parsePartitions((await a.app.inject('/v1/assignment')).json().owned))
      const ownedB = new Set(parsePartitions((await b.app.inject('/v1/assignment')).json().owned))
      for (const p of ownedA) expect(ownedB.has(p)).toBe(false)
      const keys = Array.from({ length: 256 }, (_, p) => keyFor(p))
      const seeded = await seed(db.pool, keys.map((k, i) => ({ key: k, payload: payload(k, i) })))
      const fromA = await drainAll(a)
      const fromB = await drainAll(b)
      for (const m of fromA) expect(ownedA.has(m.partition)).toBe(true)
      for (const m of fromB) expect(ownedB.has(m.partition)).toBe(true)
      expect(new Set([...fromA, ...fromB].map((m) => m.msg_uuid))).toEqual(new Set(seeded.map((s) => s.msg_uuid)))
      // The one left waiting takes over when the other lets go.
      await a.close()
      await waitFor(async () => ((await b.app.inject('/v1/assignment')).json().owned === '100-255' ? true : undefined), { timeoutMs: 10_000, what: 'takeover of the overlap' })
      const still = (await b.app.inject('/v1/assignment')).json()
      expect(still.waiting).toBe('')
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('a drain cancelled by a newer assignment: a lease from before it, once expired, is redelivered at once', async () => {
    await clearQueue()
    const reader = await startReader(db, { partitions: parsePartitions('0-255'), readerDrainTimeoutMs: 60_000 })
    try {
      const key = keyFor(7)
      const [seeded] = await seed(db.pool, [{ key, payload: payload(key, 1) }])
      const lease = await waitFor(async () => {
        const x = await postJson(`${reader.url}/v1/lease`, { max: 1, wait_ms: 1000, visibility_timeout_ms: 1500 })
        return x.body.messages?.length === 1 ? x : undefined
      })
      // Lose partition 7 (it drains: its lease is out), then get it back before the drain ends.
      expect((await postJson(`${reader.url}/v1/assignment`, { partitions: '0-6,8-255', generation: 1 }, 'PUT')).status).toBe(200)
      expect((await postJson(`${reader.url}/v1/assignment`, { partitions: '0-255', generation: 2 }, 'PUT')).status).toBe(200)
      await waitFor(async () => ((await reader.app.inject('/v1/assignment')).json().owned === '0-255' ? true : undefined), { timeoutMs: 10_000, what: 'partition 7 served again' })
      // The old lease expires after 1.5 s; its message must come back now, not after a full sweep (30 s+).
      const again = await waitFor(async () => {
        const x = await postJson(`${reader.url}/v1/lease`, { max: 1, wait_ms: 500 })
        return x.body.messages?.length === 1 ? x : undefined
      }, { timeoutMs: 8_000, what: 'redelivery of the expired lease' })
      expect(again.body.messages[0].msg_uuid).toBe(seeded!.msg_uuid)
      expect(again.body.messages[0].delivery_count).toBe(2)
      expect(lease.body.lease_id).not.toBe(again.body.lease_id)
      expect((await postJson(`${reader.url}/v1/ack`, { lease_id: again.body.lease_id })).status).toBe(200)
      expect(await queueCount()).toBe(0)
    } finally {
      await reader.close()
    }
  })

  it('live reassignment while messages flow: never served by two readers at once, nothing lost', async () => {
    await clearQueue()
    const events: OwnerEvent[] = []
    const onEvent = (e: OwnerEvent) => events.push(e)
    const a = await startReader(db, { partitions: parsePartitions('0-255'), readerName: 'ra', readerDrainTimeoutMs: 5000 }, onEvent)
    const b = await startReader(db, { partitions: [], readerName: 'rb', readerDrainTimeoutMs: 5000 }, onEvent)
    let stop = false
    try {
      await waitFor(async () => ((await a.app.inject('/v1/assignment')).json().owned === '0-255' ? true : undefined), { timeoutMs: 10_000, what: 'a owns all' })
      const keys = Array.from({ length: 64 }, (_, i) => `GPU-move-${i}`)
      const published: string[] = []
      const received = new Set<string>()
      const producer = (async () => {
        for (let round = 0; !stop; round++) {
          const s = await seed(db.pool, keys.map((k) => ({ key: k, payload: payload(k, round) })))
          published.push(...s.map((x) => x.msg_uuid))
          await new Promise((r) => setTimeout(r, 20))
        }
      })()
      const consume = async (r: RunningReader) => {
        while (!stop || received.size < published.length) {
          const x = await postJson(`${r.url}/v1/lease`, { max: 50, wait_ms: 200 })
          if (x.status !== 200) continue
          for (const m of x.body.messages) received.add(m.msg_uuid)
          if (x.body.lease_id) await postJson(`${r.url}/v1/ack`, { lease_id: x.body.lease_id })
          if (stop && x.body.messages.length === 0 && (await queueCount()) === 0) return
        }
      }
      const consumers = [consume(a), consume(a), consume(b), consume(b)]
      await new Promise((r) => setTimeout(r, 300))
      // Move the upper half to b, then part of it back, then split differently: generations increase.
      expect((await postJson(`${b.url}/v1/assignment`, { partitions: '128-255', generation: 1 }, 'PUT')).status).toBe(200)
      expect((await postJson(`${a.url}/v1/assignment`, { partitions: '0-127', generation: 1 }, 'PUT')).status).toBe(200)
      await waitFor(async () => ((await b.app.inject('/v1/assignment')).json().owned === '128-255' ? true : undefined), { timeoutMs: 15_000, what: 'b owns 128-255' })
      await new Promise((r) => setTimeout(r, 300))
      await postJson(`${a.url}/v1/assignment`, { partitions: '0-191', generation: 2 }, 'PUT')
      await postJson(`${b.url}/v1/assignment`, { partitions: [...Array(64).keys()].map((i) => 192 + i), generation: 2 }, 'PUT')
      await waitFor(async () => ((await a.app.inject('/v1/assignment')).json().owned === '0-191' ? true : undefined), { timeoutMs: 15_000, what: 'a owns 0-191' })
      // An older generation is refused.
      const stale = await postJson(`${a.url}/v1/assignment`, { partitions: '0-255', generation: 1 }, 'PUT')
      expect(stale.status).toBe(409)
      expect(stale.body.error.code).toBe('TPIPE_ERR_STALE_GENERATION')
      await new Promise((r) => setTimeout(r, 300))
      stop = true
      await producer
      await Promise.all(consumers)
      expect(received).toEqual(new Set(published))
      expect(await queueCount()).toBe(0)
      // Fencing, from the owners' own event log: per partition, service intervals never overlap.
      const moved = new Set<number>()
      for (let p = 0; p < 256; p++) {
        const evs = events.filter((e) => e.partition === p)
        let servingBy: string | null = null
        for (const e of evs) {
          if (e.type === 'acquired') {
            expect(servingBy, `partition ${p} acquired by ${e.reader} while ${servingBy} serves it`).toBeNull()
            servingBy = e.reader
          } else if (e.type === 'released') {
            expect(servingBy).toBe(e.reader)
            servingBy = null
          } else {
            expect(servingBy, `partition ${p} leased by ${e.reader}`).toBe(e.reader)
          }
          if (e.reader === 'rb') moved.add(p)
        }
      }
      expect(moved.size).toBeGreaterThan(0)
      expect(events.some((e) => e.type === 'leased' && e.reader === 'rb')).toBe(true)
    } finally {
      stop = true
      await a.close()
      await b.close()
    }
  })

  it('follows its assignment file (generation order) and is not ready without an entry', async () => {
    await clearQueue()
    const dir = mkdtempSync(join(tmpdir(), 'tpipe-assign-'))
    const file = join(dir, 'partitions.json')
    const write = (doc: unknown) => {
      // Like the kubelet: write aside, then swap in one rename.
      writeFileSync(join(dir, '.tmp'), typeof doc === 'string' ? doc : JSON.stringify(doc))
      renameSync(join(dir, '.tmp'), file)
    }
    write({ generation: 3, replicas: 2, assignments: { 'other-0': '0-127' } })
    const r = await startReader(db, { assignmentFile: file, readerName: 'mqreader-1', readerAssignmentPollMs: 200 })
    try {
      await waitFor(async () => ((await r.app.inject('/v1/assignment')).json().generation === 3 ? true : undefined), { timeoutMs: 10_000, what: 'file read' })
      expect((await r.app.inject('/readyz')).statusCode).toBe(503)
      expect((await r.app.inject('/v1/assignment')).json()).toMatchObject({ owned: '', waiting: '' })
      write({ generation: 4, replicas: 2, assignments: { 'other-0': '0-127', 'mqreader-1': '128-255' } })
      await waitFor(async () => ((await r.app.inject('/v1/assignment')).json().owned === '128-255' ? true : undefined), { timeoutMs: 10_000, what: 'gen 4 applied' })
      await waitFor(async () => (await r.app.inject('/readyz')).statusCode === 200, { timeoutMs: 10_000, what: 'ready' })
      write('generation: 2\nassignments:\n  mqreader-1: 0-255\n') // YAML, and older: ignored
      write('{broken')
      await new Promise((res) => setTimeout(res, 600))
      expect((await r.app.inject('/v1/assignment')).json()).toMatchObject({ generation: 4, owned: '128-255' })
      write('generation: 5\nassignments:\n  mqreader-1: [0, 1, 2]\n')
      await waitFor(async () => ((await r.app.inject('/v1/assignment')).json().owned === '0-2' ? true : undefined), { timeoutMs: 10_000, what: 'gen 5 applied' })
    } finally {
      await r.close()
    }
  })

  it('stops serving everything at once when its lock session dies, and takes the locks again', async () => {
    await clearQueue()
    const u = new URL(db.url)
    const proxy = await startProxy(u.hostname, Number(u.port))
    const lockUrl = viaProxy(db.url, proxy.port)
    const pool = createPool(db.url, { max: 4 })
    const r = await startReader({ pool, url: lockUrl }, { partitions: parsePartitions('0-255') })
    try {
      await waitFor(async () => ((await r.app.inject('/v1/assignment')).json().owned === '0-255' ? true : undefined), { timeoutMs: 10_000, what: 'owned' })
      await seed(db.pool, [1, 2, 3].map((i) => ({ key: 'GPU-lock', payload: payload('GPU-lock', i) })))
      const lease = await waitFor(async () => {
        const x = await postJson(`${r.url}/v1/lease`, { max: 1, wait_ms: 1000 })
        return x.body.messages?.length === 1 ? x : undefined
      })
      await proxy.cut()
      await waitFor(async () => ((await r.app.inject('/v1/assignment')).json().owned === '' ? true : undefined), { timeoutMs: 10_000, what: 'service stopped' })
      expect((await r.app.inject('/readyz')).statusCode).toBe(503)
      expect((await postJson(`${r.url}/v1/ack`, { lease_id: lease.body.lease_id })).status).toBe(409)
      expect((await postJson(`${r.url}/v1/lease`, { max: 10 })).body.messages).toEqual([])
      await proxy.restore()
      await waitFor(async () => ((await r.app.inject('/v1/assignment')).json().owned === '0-255' ? true : undefined), { timeoutMs: 15_000, what: 'locks taken again' })
      const got = await drainAll(r)
      expect(got).toHaveLength(3)
      expect(await queueCount()).toBe(0)
    } finally {
      await r.close()
      await pool.end()
      await proxy.close()
    }
  })
})
