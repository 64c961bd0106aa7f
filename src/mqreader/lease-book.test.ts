// The lease book without a database or real time: a fake clock drives expiry and long-poll timeouts.
import { describe, expect, it } from 'vitest'
import { Value } from '@sinclair/typebox/value'
import { LeaseAnswer, renderLease, renderMessageHead } from '../protocol/lease.js'
import '../protocol/formats.js'
import type { Clock, Timer } from './clock.js'
import { LeaseBook, type LeaseBookOptions } from './lease-book.js'
import { PartitionTable } from './partition-state.js'
import { MessageStore } from './store.js'

class FakeClock implements Clock {
  private t = 0
  private timers: { at: number; fn: () => void; seq: number }[] = []
  private seq = 0
  now(): number {
    return this.t
  }
  wall(): number {
    return Date.UTC(2026, 10, 30) + this.t
  }
  setTimeout(fn: () => void, ms: number): Timer {
    const timer = { at: this.t + ms, fn, seq: this.seq++ }
    this.timers.push(timer)
    return timer
  }
  clearTimeout(timer: Timer | undefined): void {
    this.timers = this.timers.filter((x) => x !== timer)
  }
  /** Moves time forward, firing every timer that comes due, in order. */
  advance(ms: number): void {
    const end = this.t + ms
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0]
      if (!due) break
      this.timers = this.timers.filter((x) => x !== due)
      this.t = due.at
      due.fn()
    }
    this.t = end
  }
}

const UUID = (id: number) => `00000000-0000-7000-8000-${String(id).padStart(12, '0')}`

function setup(partitions: number[], opts: Partial<LeaseBookOptions> = {}) {
  const clock = new FakeClock()
  const table = new PartitionTable('r0')
  table.assign({ generation: 1, partitions }, 0)
  for (const p of partitions) table.lockTaken(p)
  const store = new MessageStore()
  const events = { taken: 0, expired: 0, counts: [] as [string, number][] }
  const book = new LeaseBook(table, store, {
    maxWaiters: 10,
    leaseMaxBytes: 16 * 1024 * 1024,
    clock,
    onTaken: () => events.taken++,
    onReturned: () => events.expired++,
    onCount: (what, n) => events.counts.push([what, n]),
    ...opts,
  })
  let next = 1
  // Heads of payloads over 64 KB are rendered once per partition and shared (their msg_uuid is the first
  // message's): the byte-bound test holds 560 heads of 1 MB, which need not be 560 MB of test memory.
  const big = new Map<string, ReturnType<typeof renderMessageHead>>()
  const add = (p: number, payload = '{"v":1}') => {
    const id = next++
    const render = () => renderMessageHead({ msg_uuid: UUID(id), key: `k${p}`, partition: p, payloadJson: payload, enqueued_at: '2026-11-30T00:00:00.000000Z' })
    let rendered = payload.length > 65_536 ? big.get(`${p}\0${payload}`) : undefined
    if (!rendered) {
      rendered = render()
      if (payload.length > 65_536) big.set(`${p}\0${payload}`, rendered)
    }
    const { head, bytes } = rendered
    store.addLoaded({ id, uuid: UUID(id), partition: p, head, bytes, deliveries: 1, loadEpoch: table.epoch[p]! })
    return id
  }
  return { clock, table, store, book, events, add }
}

describe('LeaseBook', () => {
  it('a lease expires on the clock: its messages are ready again with delivery_count + 1', async () => {
    const { clock, store, book, events, add } = setup([0])
    add(0)
    add(0)
    const lease = (await book.lease(10, 1000, 0))!
    expect(lease.msgs.map((m) => m.id)).toEqual([1, 2])
    expect(lease.expiresAt).toBe(clock.wall() + 1000)
    expect([store.readyTotal, store.leasedTotal]).toEqual([0, 2])
    clock.advance(999)
    expect(store.leasedTotal).toBe(2)
    clock.advance(1)
    expect([store.readyTotal, store.leasedTotal]).toEqual([2, 0])
    expect(book.leasesExpired).toBe(1)
    expect(book.redelivered).toBe(2)
    expect(events.expired).toBe(1)
    expect(events.counts).toEqual([
      ['expired', 1],
      ['redelivered', 2],
    ])
    const again = (await book.lease(10, 1000, 0))!
    expect(again.msgs.map((m) => [m.id, m.deliveries])).toEqual([
      [1, 2],
      [2, 2],
    ])
    // Acked late: the old lease is gone.
    expect(() => book.ack(lease.id)).toThrow(/unknown or expired/)
  })

  it('an acked lease does not expire; a partial ack keeps the rest leased until expiry', async () => {
    const { clock, store, book, add } = setup([0])
    for (let i = 0; i < 3; i++) add(0)
    const lease = (await book.lease(10, 500, 0))!
    const acked = book.ack(lease.id, [UUID(2).toUpperCase()])
    expect(acked.map((m) => m.id)).toEqual([2])
    expect(store.pendingCount[0]).toBe(1)
    clock.advance(500)
    expect(store.readyIds(0)).toEqual([1, 3])
    const whole = (await book.lease(10, 500, 0))!
    expect(book.ack(whole.id)).toHaveLength(2)
    clock.advance(10_000)
    expect(book.leasesExpired).toBe(1)
    expect(store.leasedTotal).toBe(0)
  })

  it('a long-poll is answered when messages arrive, or empty when its wait ends on the clock', async () => {
    const { clock, book, add } = setup([0])
    const parked = book.lease(5, 1000, 2000)
    expect(book.waiting).toBe(1)
    add(0)
    book.serveWaiters()
    const served = (await parked)!
    expect(served.msgs).toHaveLength(1)
    book.ack(served.id)
    const empty = book.lease(5, 1000, 2000)
    clock.advance(1999)
    expect(book.waiting).toBe(1)
    clock.advance(1)
    expect(await empty).toBeNull()
    expect(book.waiting).toBe(0)
  })

  it('refuses more waiters than allowed with 429 TOO_MANY_WAITERS', async () => {
    const { book } = setup([0], { maxWaiters: 1 })
    void book.lease(1, 1000, 1000)
    await expect(book.lease(1, 1000, 1000)).rejects.toMatchObject({ code: 'TPIPE_ERR_TOO_MANY_WAITERS' })
  })

  it('a released lease is ready again at once, in id order, with the same delivery_count; unknown ids are counted', async () => {
    const { clock, store, book, events, add } = setup([0])
    for (let i = 0; i < 4; i++) add(0)
    const a = (await book.lease(2, 30_000, 0))!
    const b = (await book.lease(2, 30_000, 0))!
    expect(store.readyTotal).toBe(0)
    // b first, a twice, one id never issued: the messages come back in id order, each lease once.
    expect(book.release([b.id, a.id, a.id, 'no-such-lease'])).toEqual({ leases: 2, messages: 4, unknown: 1 })
    expect([store.readyTotal, store.leasedTotal]).toEqual([4, 0])
    expect(store.readyIds(0)).toEqual([1, 2, 3, 4])
    expect(events.expired).toBe(1)
    expect(events.counts).toEqual([
      ['released', 2],
      ['releasedMessages', 4],
      ['releaseUnknown', 1],
    ])
    // Not a delivery attempt, not a redelivery, and no expiry left behind.
    const again = (await book.lease(10, 30_000, 0))!
    expect(again.msgs.map((m) => [m.id, m.deliveries])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 1],
    ])
    expect(book.redelivered).toBe(0)
    clock.advance(60_000)
    expect(book.leasesExpired).toBe(1) // `again`, never acked
    // A late ack or a second release of a released lease changes nothing.
    expect(() => book.ack(a.id)).toThrow(/unknown or expired/)
    expect(book.release([a.id])).toEqual({ leases: 0, messages: 0, unknown: 1 })
    expect(store.readyIds(0)).toEqual([1, 2, 3, 4])
  })

  it('a released lease of a partition no longer served is forgotten (left for the next owner): nothing outstanding remains', async () => {
    const { table, store, book, add } = setup([0, 1])
    add(0)
    add(1)
    const lease = (await book.lease(10, 30_000, 0))!
    table.assign({ generation: 2, partitions: [1] }, 0)
    expect(store.outstanding(0)).toBe(1)
    book.release([lease.id])
    expect(store.outstanding(0)).toBe(0)
    expect(store.readyIds(0)).toEqual([])
    expect(store.isKnown(1)).toBe(false)
    expect(store.readyIds(1)).toEqual([2])
  })

  it('an expired lease of a partition no longer served is forgotten, not made ready', async () => {
    const { clock, table, store, book, add } = setup([0, 1])
    add(0)
    add(1)
    await book.lease(10, 100, 0)
    table.assign({ generation: 2, partitions: [1] }, 0)
    clock.advance(100)
    expect(store.readyIds(0)).toEqual([])
    expect(store.readyIds(1)).toEqual([2])
    expect(store.isKnown(1)).toBe(false)
  })

  it('bounds a lease in bytes: ~1 MB messages × 560 come in several leases instead of one RangeError', async () => {
    const { book, add, store } = setup([0, 1], { leaseMaxBytes: 16 * 1024 * 1024 })
    // One shared 1 MB payload text (and one head per partition: see add), so the test itself stays small.
    const payload = `{"blob":"${'x'.repeat(1024 * 1024)}"}`
    for (let i = 0; i < 560; i++) add(i % 2, payload)
    const sizes: number[] = []
    let delivered = 0
    for (;;) {
      const lease = await book.lease(5000, 60_000, 0)
      if (!lease) break
      // Rendering one answer shows its size; rendering all 560 MB would only slow the test down.
      if (sizes.length === 0) expect(renderLease(lease).length).toBeLessThanOrEqual(16 * 1024 * 1024)
      sizes.push(lease.msgs.length)
      delivered += lease.msgs.length
      book.ack(lease.id)
    }
    expect(delivered).toBe(560)
    expect(sizes.length).toBeGreaterThan(1)
    expect(Math.max(...sizes)).toBe(15)
    expect(store.readyTotal).toBe(0)
  }, 60_000)

  it('a single message larger than the bound still goes, alone', async () => {
    const { book, add } = setup([0], { leaseMaxBytes: 4096 })
    add(0, `"${'y'.repeat(10_000)}"`)
    add(0)
    const first = (await book.lease(10, 1000, 0))!
    expect(first.msgs.map((m) => m.id)).toEqual([1])
    const second = (await book.lease(10, 1000, 0))!
    expect(second.msgs.map((m) => m.id)).toEqual([2])
  })

  it("a request's own max_bytes bounds its lease below the reader's bound, also for a waiting request", async () => {
    const { book, add } = setup([0], { leaseMaxBytes: 16 * 1024 * 1024 })
    for (let i = 0; i < 10; i++) add(0, `"${'z'.repeat(1000)}"`)
    const small = (await book.lease(100, 1000, 0, undefined, 4000))!
    expect(small.msgs.map((m) => m.id)).toEqual([1, 2, 3])
    const rest = (await book.lease(100, 1000, 0))!
    expect(rest.msgs).toHaveLength(7)
    // parked while nothing is ready: the bound is kept for when messages arrive
    const parked = book.lease(100, 1000, 5000, undefined, 2500)
    for (let i = 0; i < 5; i++) add(0, `"${'z'.repeat(1000)}"`)
    book.serveWaiters()
    expect((await parked)!.msgs).toHaveLength(2)
  })

  it('renders answers that match the LeaseAnswer schema', async () => {
    const { book, add } = setup([0])
    add(0, '{"a":[1,2,{"b":null}],"s":"quote \\" and \\\\ and \\u00e9"}')
    const lease = (await book.lease(10, 1000, 0))!
    expect(Value.Errors(LeaseAnswer, JSON.parse(renderLease(lease).toString())).First()).toBeUndefined()
  })
})
