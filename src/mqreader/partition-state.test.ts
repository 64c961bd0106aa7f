import { describe, expect, it } from 'vitest'
import { TpipeError } from '../errors.js'
import { PartitionTable, TRANSITIONS, type PartitionState } from './partition-state.js'

const assign = (t: PartitionTable, generation: number, partitions: number[] | null, deadline = 1000) => t.assign({ generation, partitions }, deadline)
const states = (t: PartitionTable, ps: number[]) => ps.map((p) => t.state(p))

describe('PartitionTable (the partition state machine)', () => {
  it('assigned partitions wait for their lock, then are owned under a new epoch', () => {
    const t = new PartitionTable('r0')
    expect(assign(t, 1, [0, 1])).toEqual([
      { partition: 0, from: 'none', to: 'waiting' },
      { partition: 1, from: 'none', to: 'waiting' },
    ])
    expect(t.view()).toEqual({ reader: 'r0', generation: 1, owned: '', draining: '', waiting: '0-1' })
    expect(t.needsLockWork()).toBe(true)
    const e0 = t.epoch[0]
    expect(t.lockTaken(0)).toBe('owned')
    expect(t.epoch[0]).toBe(e0! + 1)
    expect(t.owned).toEqual([0])
    expect(t.view()).toMatchObject({ owned: '0', waiting: '1' })
  })

  it('unassigned while owned: drains, then releases; reassigned while draining: owned again at once', () => {
    const t = new PartitionTable('r0')
    assign(t, 1, [7])
    t.lockTaken(7)
    const e = t.epoch[7]!
    expect(assign(t, 2, [], 500)).toEqual([{ partition: 7, from: 'owned', to: 'draining' }])
    expect(t.epoch[7]).toBe(e + 1)
    expect(t.owned).toEqual([])
    expect(t.drainExpired(7, 499)).toBe(false)
    expect(t.drainExpired(7, 500)).toBe(true)
    // Reassigned before the drain ended: the lock was never released.
    expect(assign(t, 3, [7])).toEqual([{ partition: 7, from: 'draining', to: 'owned' }])
    expect(t.epoch[7]).toBe(e + 2)
    assign(t, 4, [])
    t.beginRelease(7)
    expect(t.view().draining).toBe('7')
    // Assigned again while the unlock is in flight: waiting once it returns.
    assign(t, 5, [7])
    expect(t.state(7)).toBe('releasing')
    t.released(7)
    expect(t.state(7)).toBe('waiting')
    assign(t, 6, [])
    expect(t.state(7)).toBe('none')
  })

  it('a lock taken for a partition no longer wanted is given back', () => {
    const t = new PartitionTable('r0')
    assign(t, 1, [3])
    assign(t, 2, [])
    expect(t.lockTaken(3)).toBe('giveBack')
    expect(t.state(3)).toBe('none')
  })

  it('refuses an older generation and keeps the one in force', () => {
    const t = new PartitionTable('r0')
    assign(t, 5, [1])
    expect(() => assign(t, 4, [2])).toThrow(TpipeError)
    expect(t.generation).toBe(5)
    expect(t.view().waiting).toBe('1')
    // The same generation again is accepted (a re-read file).
    expect(() => assign(t, 5, [1])).not.toThrow()
  })

  it('no entry (partitions null) is not the same as an empty entry', () => {
    const t = new PartitionTable('r0')
    assign(t, 1, null)
    expect(t.hasEntry).toBe(false)
    assign(t, 2, [])
    expect(t.hasEntry).toBe(true)
  })

  it('a lost lock session ends every held partition under a new epoch; still-assigned ones wait again', () => {
    const t = new PartitionTable('r0')
    assign(t, 1, [0, 1, 2])
    for (const p of [0, 1, 2]) t.lockTaken(p)
    assign(t, 2, [0, 1])
    expect(states(t, [0, 1, 2])).toEqual(['owned', 'owned', 'draining'])
    const before = [t.epoch[0]!, t.epoch[2]!]
    const out = t.lost(false)
    expect(out.map((x) => [x.partition, x.to])).toEqual([
      [0, 'waiting'],
      [1, 'waiting'],
      [2, 'none'],
    ])
    expect([t.epoch[0], t.epoch[2]]).toEqual([before[0]! + 1, before[1]! + 1])
    expect(t.owned).toEqual([])
    // Closing: nothing waits for its lock again.
    for (const p of [0, 1]) t.lockTaken(p)
    expect(t.lost(true).every((x) => x.to === 'none')).toBe(true)
  })

  it('shutdown: owned partitions drain, waiting ones stop', () => {
    const t = new PartitionTable('r0')
    assign(t, 1, [0, 1])
    t.lockTaken(0)
    expect(t.unassignAll(99)).toEqual([
      { partition: 0, from: 'owned', to: 'draining' },
      { partition: 1, from: 'waiting', to: 'none' },
    ])
    expect(t.anyDesired()).toBe(false)
    expect(t.anyHeld()).toBe(true)
    t.beginRelease(0)
    t.released(0)
    expect(t.anyHeld()).toBe(false)
  })

  it('asserts transitions: an impossible one throws instead of corrupting the state', () => {
    const t = new PartitionTable('r0')
    expect(() => t.beginRelease(4)).toThrow(/partition 4: no transition none → releasing/)
    assign(t, 1, [4])
    expect(() => t.beginRelease(4)).toThrow(/waiting → releasing/)
    expect(t.state(4)).toBe('waiting')
    // Every state is reachable and has a way out.
    const all = Object.keys(TRANSITIONS) as PartitionState[]
    for (const s of all) expect(TRANSITIONS[s].length).toBeGreaterThan(0)
    const reached = new Set(all.flatMap((s) => TRANSITIONS[s]))
    expect([...reached].sort()).toEqual([...all].sort())
  })
})
