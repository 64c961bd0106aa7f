import { afterEach, describe, expect, it } from 'vitest'
import { ReaderSet } from './readers.js'
import type { LeasedMessage } from '../protocol/lease.js'
import { toRows } from './persist.js'
import { payload } from '../mqreader/test-support.js'

let sets: ReaderSet[] = []
afterEach(async () => {
  for (const s of sets) await s.close()
  sets = []
})

function make(urls: string[], resolve: (h: string) => Promise<string[]>) {
  const s = new ReaderSet(urls, { connections: 2, waitMs: 1000, backoffMs: 100, resolve })
  sets.push(s)
  return s
}

describe('ReaderSet', () => {
  it('counts a DNS name once per address, keeps IPs and localhost as they are, and follows changes', async () => {
    let addresses = ['10.0.0.1', '10.0.0.2']
    const s = make(['http://mqreader-headless:8080', 'http://127.0.0.1:9000', 'http://localhost:9001'], async () => addresses)
    await s.refresh()
    expect(s.list.map((e) => e.origin)).toEqual(['http://10.0.0.1:8080', 'http://10.0.0.2:8080', 'http://127.0.0.1:9000', 'http://localhost:9001'])
    const kept = s.list[1]
    addresses = ['10.0.0.2', '10.0.0.3']
    await s.refresh()
    expect(s.list.map((e) => e.origin)).toEqual(['http://10.0.0.2:8080', 'http://10.0.0.3:8080', 'http://127.0.0.1:9000', 'http://localhost:9001'])
    expect(s.list[0]).toBe(kept) // state survives a re-resolution
  })

  it('keeps the last known addresses when a lookup fails', async () => {
    let fail = false
    const s = make(['http://readers:8080'], async () => {
      if (fail) throw new Error('ENOTFOUND')
      return ['10.0.0.7']
    })
    await s.refresh()
    fail = true
    await s.refresh()
    expect(s.list.map((e) => e.origin)).toEqual(['http://10.0.0.7:8080'])
  })

  it('round-robins, skips recently empty and failing readers, and long-polls when all were empty', async () => {
    const s = make(['http://10.0.0.1:1', 'http://10.0.0.2:1', 'http://10.0.0.3:1'], async () => [])
    await s.refresh()
    const [a, b, c] = s.list
    const now = 1_000_000
    const order = [0, 1, 2, 3].map(() => (s.pick(now) as { ep: unknown }).ep)
    expect(order).toEqual([a, b, c, a])
    s.markEmpty(b!, now)
    s.markFailed(c!, now)
    const picks = [0, 1, 2].map(() => s.pick(now))
    for (const p of picks) expect(p).toEqual({ ep: a, waitMs: 0 })
    s.markEmpty(a!, now)
    const lp = s.pick(now) as { ep: unknown; waitMs: number }
    expect(lp.waitMs).toBe(1000)
    expect(lp.ep === a || lp.ep === b).toBe(true)
    // Empty marks wear off quickly; failures back off longer.
    expect(s.pick(now + 150)).toMatchObject({ waitMs: 0 })
    s.markFailed(a!, now)
    s.markFailed(b!, now)
    expect(s.pick(now)).toHaveProperty('sleepMs')
  })
})

describe('toRows', () => {
  const m = (p: unknown, i: number): LeasedMessage => ({ msg_uuid: `00000000-0000-7000-8000-00000000000${i}`, key: 'k', partition: 1, payload: p, enqueued_at: '2026-11-27T00:00:00.000000Z', delivery_count: 1 })

  it('valid payloads become rows carrying their msg_uuid; others become dead letters with the reason', () => {
    const { rows, dead } = toRows([m(payload('GPU-1', 1), 1), m({ ...payload('GPU-1', 2), ts: 'yesterday' }, 2), m('scalar', 3)])
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ msg_uuid: m(null, 1).msg_uuid, gpu_uuid: 'GPU-1', value: 1 })
    expect(dead.map((d) => d.msg_uuid)).toEqual([m(null, 2).msg_uuid, m(null, 3).msg_uuid])
    expect(dead[0]!.error).toMatch(/ts/)
  })
})
