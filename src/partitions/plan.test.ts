import { describe, expect, it } from 'vitest'
import { assignmentsOf, describeMoves, diff, hungarian, layout, plan, replicaNames, type Plan } from './plan.js'
import { formatPartitions, parsePartitions } from './ranges.js'

function sizes(p: Plan): number[] {
  return Object.values(p).map((r) => r.end - r.start + 1)
}

describe('plan', () => {
  it.each([
    [1, { 'r-0': '0-255' }],
    [2, { 'r-0': '0-127', 'r-1': '128-255' }],
    [3, { 'r-0': '0-85', 'r-1': '86-170', 'r-2': '171-255' }],
    [4, { 'r-0': '0-63', 'r-1': '64-127', 'r-2': '128-191', 'r-3': '192-255' }],
    [5, { 'r-0': '0-51', 'r-1': '52-102', 'r-2': '103-153', 'r-3': '154-204', 'r-4': '205-255' }],
  ])('%i replicas → %o', (n, expected) => {
    expect(assignmentsOf(plan(replicaNames('r', n)))).toEqual(expected)
  })

  it.each([1, 2, 3, 5, 7, 16, 100, 255, 256])('%i replicas cover 0–255 contiguously, sizes within one', (n) => {
    const p = plan(replicaNames('r', n))
    const ranges = Object.values(p)
    expect(ranges[0]!.start).toBe(0)
    expect(ranges.at(-1)!.end).toBe(255)
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.start).toBe(ranges[i - 1]!.end + 1)
    const s = sizes(p)
    expect(Math.max(...s) - Math.min(...s)).toBeLessThanOrEqual(1)
  })

  it('zero replicas own nothing; bad inputs are refused', () => {
    expect(plan([])).toEqual({})
    expect(() => plan(['a', 'a'])).toThrow(/unique/)
    expect(() => plan(replicaNames('r', 257))).toThrow(/at most 256/)
  })
})

describe('diff', () => {
  function permutations(n: number): number[][] {
    if (n <= 1) return [[0].slice(0, n)]
    return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]))
  }

  it.each([
    // [from replicas, to replicas, partitions moved]
    [2, 2, 0],
    [1, 2, 128],
    [2, 1, 128],
    [2, 4, 128], // r-0 keeps 0-63, r-1 keeps 128-191; r-2 and r-3 take the rest
    [4, 2, 192], // r-2 and r-3 go away: their 128 partitions move, and 64 more to rebalance
    [2, 3, 85],
    [3, 4, 85],
    [4, 1, 192],
    [4, 3, 129],
  ])('%i → %i replicas moves %i partitions, the minimum over every assignment of the layout', (a, b, expected) => {
    const from = plan(replicaNames('r', a))
    const to = plan(replicaNames('r', b), from)
    const moves = diff(from, to)
    expect(moves).toHaveLength(expected)
    // brute force: no other assignment of the same layout to the same names moves fewer
    const names = replicaNames('r', b)
    const ranges = layout(b)
    const best = Math.min(
      ...permutations(b).map((perm) => diff(from, Object.fromEntries(names.map((nm, i) => [nm, ranges[perm[i]!]!]))).length),
    )
    expect(moves.length).toBe(best)
    // Every move is real and every unmoved partition keeps its owner.
    for (const m of moves) expect(m.from).not.toBe(m.to)
    const moved = new Set(moves.map((m) => m.partition))
    for (let i = 0; i < 256; i++) {
      const owner = (p: Plan) => Object.entries(p).find(([, r]) => i >= r.start && i <= r.end)?.[0] ?? null
      if (!moved.has(i)) expect(owner(from)).toBe(owner(to))
    }
  })

  it('2 → 4 moves exactly half, and names each move', () => {
    const two = plan(replicaNames('r', 2))
    const moves = diff(two, plan(replicaNames('r', 4), two))
    expect(moves).toHaveLength(128)
    expect(describeMoves(moves)).toEqual(['r-0 → r-2: 64-127', 'r-1 → r-3: 192-255'])
  })

  it('a chain of scale changes keeps every plan balanced and each step minimal', () => {
    let current = plan(replicaNames('r', 2))
    for (const n of [4, 3, 1, 5, 2, 8, 7]) {
      const next = plan(replicaNames('r', n), current)
      const s = sizes(next)
      expect(s.reduce((a, b) => a + b, 0)).toBe(256)
      expect(Math.max(...s) - Math.min(...s)).toBeLessThanOrEqual(1)
      current = next
    }
  })

  it('plans without history follow ordinal order, so independent planners agree', () => {
    expect(plan(replicaNames('r', 3))).toEqual(plan(replicaNames('r', 3)))
    expect(plan(['b', 'a'])).toEqual({ b: { start: 0, end: 127 }, a: { start: 128, end: 255 } })
  })

  it('hungarian finds the minimum-cost assignment', () => {
    expect(hungarian([[4, 1, 3], [2, 0, 5], [3, 2, 2]])).toEqual([1, 0, 2])
    expect(hungarian([[0]])).toEqual([0])
  })

  it('adding one replica moves fewer partitions than re-homing everything', () => {
    for (let n = 1; n < 12; n++) {
      const from = plan(replicaNames('r', n))
      const moves = diff(from, plan(replicaNames('r', n + 1), from))
      expect(moves.length).toBeLessThan(256)
      // lower bound: the new replica must receive its share
      expect(moves.length).toBeGreaterThanOrEqual(Math.floor(256 / (n + 1)))
    }
  })

  it('scaling to zero releases everything', () => {
    const moves = diff(plan(replicaNames('r', 2)), plan([]))
    expect(moves).toHaveLength(256)
    expect(moves.every((m) => m.to === null)).toBe(true)
  })
})

describe('partition ranges', () => {
  it.each([
    ['0-3', [0, 1, 2, 3]],
    ['0-1,5,7-8', [0, 1, 5, 7, 8]],
    [' 3 , 1-2 ', [1, 2, 3]],
    ['', []],
    ['none', []],
    ['0-255', Array.from({ length: 256 }, (_, i) => i)],
  ])('parses %j', (spec, expected) => {
    expect(parsePartitions(spec)).toEqual(expected)
  })

  it.each(['a', '5-3', '0-256', '1,,x', '-1'])('rejects %j with a clear error', (spec) => {
    expect(() => parsePartitions(spec)).toThrow(/bad partition range/)
  })

  it('formats compactly and round-trips', () => {
    expect(formatPartitions([5, 0, 1, 2, 9, 8])).toBe('0-2,5,8-9')
    expect(parsePartitions(formatPartitions([0, 63, 64, 200]))).toEqual([0, 63, 64, 200])
  })
})
