// Issue 13 item 4: leases handed back (POST /v1/release) instead of waiting for their visibility timeout
// or for a drain's deadline. Real PostgreSQL, readers in process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { keyFor, payload, postJson, seed, startReader } from '../../test/support/mqreader.js'
import { metricValue } from '../metrics/index.js'
import { parsePartitions } from '../partitions/ranges.js'
import { waitFor } from '../util/async.js'
import type { OwnerEvent } from './owner.js'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.drop()
})

async function queueCount(): Promise<number> {
  return Number((await db.pool.query('SELECT count(*) FROM queue_messages')).rows[0].count)
}

type Leased = { msg_uuid: string; delivery_count: number }
const uuids = (msgs: Leased[]) => msgs.map((m) => m.msg_uuid)

describe('mqreader POST /v1/release', () => {
  it('released messages are leasable again at once with the same delivery_count; a late ack of the released lease changes nothing', async () => {
    await db.pool.query('DELETE FROM queue_messages')
    const reader = await startReader(db, { partitions: parsePartitions('0-255'), readerName: 'rel', readerDrainTimeoutMs: 2000 })
    try {
      const key = keyFor(3)
      const seeded = await seed(db.pool, [0, 1, 2, 3, 4].map((i) => ({ key, payload: payload(key, i) })))
      // A 30 s lease: anything that comes back within the test came back through the release.
      const first = await waitFor(async () => {
        const x = await postJson(`${reader.url}/v1/lease`, { max: 10, visibility_timeout_ms: 30_000, wait_ms: 1000 })
        return x.body.messages?.length === 5 ? x : undefined
      })
      expect((await postJson(`${reader.url}/v1/lease`, { max: 10 })).body.messages).toEqual([])
      const released = await postJson(`${reader.url}/v1/release`, { lease_ids: [first.body.lease_id, 'not-a-lease'] })
      expect(released.status).toBe(200)
      expect(released.body).toEqual({ released_leases: 1, released_messages: 5, unknown: 1 })
      const again = await postJson(`${reader.url}/v1/lease`, { max: 10, visibility_timeout_ms: 30_000 })
      expect(uuids(again.body.messages)).toEqual(seeded.map((s) => s.msg_uuid))
      // A release is not a delivery attempt: the count does not move toward "poison".
      expect(again.body.messages.map((m: Leased) => m.delivery_count)).toEqual([1, 1, 1, 1, 1])
      // The late ack of the released lease (its collector persisted after all): 409, nothing deleted,
      // the new lease still holds every message.
      const late = await postJson(`${reader.url}/v1/ack`, { lease_id: first.body.lease_id })
      expect(late.status).toBe(409)
      expect(late.body.error.code).toBe('TPIPE_ERR_LEASE_EXPIRED')
      expect(await queueCount()).toBe(5)
      expect((await postJson(`${reader.url}/v1/release`, { lease_ids: [first.body.lease_id] })).body).toEqual({ released_leases: 0, released_messages: 0, unknown: 1 })
      expect((await postJson(`${reader.url}/v1/ack`, { lease_id: again.body.lease_id })).body).toEqual({ acked: 5 })
      expect(await queueCount()).toBe(0)
      expect((await postJson(`${reader.url}/v1/lease`, { max: 10 })).body.messages).toEqual([])
      expect((await reader.app.inject('/v1/stats')).json()).toMatchObject({ leases_released_total: 1, messages_released_total: 5, release_unknown_total: 2, redelivered_total: 0, leases_expired_total: 0, acked_total: 5 })
      expect(await metricValue(reader.registry, 'mqreader_leases_released_total')).toBe(1)
      expect(await metricValue(reader.registry, 'mqreader_messages_released_total')).toBe(5)
      expect(await metricValue(reader.registry, 'mqreader_release_unknown_total')).toBe(2)
    } finally {
      await reader.close()
    }
  })

  it('a reader giving up a partition hands it over as soon as its outstanding lease is released, not at the drain deadline', async () => {
    await db.pool.query('DELETE FROM queue_messages')
    const events: OwnerEvent[] = []
    // The default drain bound (10 s): without the release, the next owner would wait for it.
    const a = await startReader(db, { partitions: parsePartitions('0-255'), readerName: 'give', readerDrainTimeoutMs: 10_000 }, (e) => events.push(e))
    await waitFor(async () => ((await a.app.inject('/v1/assignment')).json().owned === '0-255' ? true : undefined), { timeoutMs: 10_000, what: 'a holds 0-255' })
    const b = await startReader(db, { partitions: [7], readerName: 'take' }, (e) => events.push(e))
    try {
      const key = keyFor(7)
      const seeded = await seed(db.pool, [0, 1, 2].map((i) => ({ key, payload: payload(key, i) })))
      const held = await waitFor(async () => {
        const x = await postJson(`${a.url}/v1/lease`, { max: 10, visibility_timeout_ms: 30_000, wait_ms: 1000 })
        return x.body.messages?.length === 3 ? x : undefined
      })
      expect((await postJson(`${a.url}/v1/assignment`, { partitions: '0-6,8-255', generation: 1 }, 'PUT')).status).toBe(200)
      // Partition 7 drains: its lease is out, b waits for the lock.
      await new Promise((r) => setTimeout(r, 300))
      expect((await a.app.inject('/v1/assignment')).json().draining).toBe('7')
      expect((await b.app.inject('/v1/assignment')).json().waiting).toBe('7')
      const releasedAt = Date.now()
      const rel = await postJson(`${a.url}/v1/release`, { lease_ids: [held.body.lease_id] })
      expect(rel.status).toBe(200)
      expect(rel.body.released_messages).toBe(3)
      await waitFor(async () => ((await b.app.inject('/v1/assignment')).json().owned === '7' ? true : undefined), { timeoutMs: 8000, what: 'b owns partition 7' })
      const handover = Date.now() - releasedAt
      expect(handover).toBeLessThan(5000) // well under the 10 s drain bound (~0.3 s quiet)
      // Never served by both: a's release event comes before b's acquire.
      const aReleased = events.find((e) => e.reader === 'give' && e.type === 'released' && e.partition === 7)!
      const bAcquired = events.find((e) => e.reader === 'take' && e.type === 'acquired' && e.partition === 7)!
      expect(aReleased.at).toBeLessThanOrEqual(bAcquired.at)
      // b delivers them, first delivery as far as the count goes; a's late ack is refused and deletes nothing.
      const next = await waitFor(async () => {
        const x = await postJson(`${b.url}/v1/lease`, { max: 10, wait_ms: 1000 })
        return x.body.messages?.length === 3 ? x : undefined
      })
      expect(uuids(next.body.messages)).toEqual(seeded.map((s) => s.msg_uuid))
      expect((await postJson(`${a.url}/v1/ack`, { lease_id: held.body.lease_id })).status).toBe(409)
      expect(await queueCount()).toBe(3)
      expect((await postJson(`${b.url}/v1/ack`, { lease_id: next.body.lease_id })).status).toBe(200)
      expect(await queueCount()).toBe(0)
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('ends a shutdown drain at once when the leases out are released', async () => {
    await db.pool.query('DELETE FROM queue_messages')
    const reader = await startReader(db, { partitions: parsePartitions('0-255'), readerName: 'stop', readerDrainTimeoutMs: 10_000 })
    try {
      const key = keyFor(9)
      await seed(db.pool, [{ key, payload: payload(key, 1) }])
      const held = await waitFor(async () => {
        const x = await postJson(`${reader.url}/v1/lease`, { max: 10, visibility_timeout_ms: 30_000, wait_ms: 1000 })
        return x.body.messages?.length === 1 ? x : undefined
      })
      const started = Date.now()
      const closing = reader.close()
      await waitFor(async () => ((await postJson(`${reader.url}/v1/lease`, { max: 1 })).status === 503 ? true : undefined), { timeoutMs: 5000, what: 'leasing refused' })
      expect((await postJson(`${reader.url}/v1/release`, { lease_ids: [held.body.lease_id] })).body.released_leases).toBe(1)
      await closing
      expect(Date.now() - started).toBeLessThan(6000) // the drain bound is 10 s
      expect(await queueCount()).toBe(1)
    } finally {
      await reader.close()
    }
  })
})
