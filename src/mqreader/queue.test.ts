import { describe, expect, it } from 'vitest'
import { ReadyQueue, type Msg } from './queue.js'
import { renderLease } from '../protocol/lease.js'

const msg = (id: number, deliveries = 1): Msg => ({ id, uuid: `u${id}`, partition: 0, head: Buffer.from(`{"id":${id},"delivery_count":`), bytes: 30, deliveries, loadEpoch: 1 })

describe('ReadyQueue', () => {
  it('is FIFO and takes at most n', () => {
    const q = new ReadyQueue()
    for (const id of [1, 2, 3, 4]) q.push(msg(id))
    const out: Msg[] = []
    expect(q.takeInto(out, 3)).toBe(3)
    expect(out.map((m) => m.id)).toEqual([1, 2, 3])
    expect(q.length).toBe(1)
    expect(q.takeInto(out, 10)).toBe(1)
    expect(q.length).toBe(0)
  })

  it('merges returning messages back in id order', () => {
    const q = new ReadyQueue()
    for (const id of [5, 8, 9]) q.push(msg(id))
    q.merge([msg(7), msg(2), msg(10)])
    expect(q.ids()).toEqual([2, 5, 7, 8, 9, 10])
    q.merge([msg(1)])
    expect(q.ids()).toEqual([1, 2, 5, 7, 8, 9, 10])
  })

  it('keeps order across many takes and compactions', () => {
    const q = new ReadyQueue()
    for (let i = 0; i < 5000; i++) q.push(msg(i))
    const out: Msg[] = []
    while (q.length > 0) q.takeInto(out, 7)
    expect(out.map((m) => m.id)).toEqual(Array.from({ length: 5000 }, (_, i) => i))
    expect(q.clear()).toEqual([])
  })
})

describe('renderLease', () => {
  it('is valid JSON with each message’s delivery count appended', () => {
    const lease = { id: 'L1', msgs: [msg(1), msg(2, 3)], expiresAt: Date.UTC(2026, 10, 27), timer: undefined as unknown as NodeJS.Timeout }
    expect(JSON.parse(renderLease(lease).toString())).toEqual({
      lease_id: 'L1',
      expires_at: '2026-11-27T00:00:00.000Z',
      messages: [
        { id: 1, delivery_count: 1 },
        { id: 2, delivery_count: 3 },
      ],
    })
    expect(JSON.parse(renderLease(null).toString())).toEqual({ lease_id: null, expires_at: null, messages: [] })
  })
})
