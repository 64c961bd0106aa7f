import { describe, expect, it } from 'vitest'
import { mine, ownerOf, staticMembers } from './shard.js'

const targets = Array.from({ length: 2000 }, (_, i) => `http://10.0.${Math.floor(i / 250)}.${i % 250}:9400/metrics`)

function assignment(members: string[]): Map<string, string> {
  return new Map(targets.map((t) => [t, ownerOf(t, members)!]))
}

describe('rendezvous sharding', () => {
  it('gives every target exactly one owner, and the owners agree on it', () => {
    const members = ['scraper-0', 'scraper-1', 'scraper-2']
    const parts = members.map((m) => mine(targets, (t) => t, members, m))
    expect(parts.reduce((n, p) => n + p.length, 0)).toBe(targets.length)
    expect(new Set(parts.flat()).size).toBe(targets.length)
    // balanced within 15 % of the mean
    for (const p of parts) expect(Math.abs(p.length - targets.length / 3)).toBeLessThan((0.15 * targets.length) / 3)
  })

  it('moves only the targets it must when a replica joins or leaves', () => {
    for (let n = 1; n < 6; n++) {
      const before = assignment(staticMembers(n))
      const after = assignment(staticMembers(n + 1))
      const moved = targets.filter((t) => before.get(t) !== after.get(t))
      // every moved target goes to the new member, and about 1/(n+1) of them move
      expect(moved.every((t) => after.get(t) === String(n))).toBe(true)
      expect(Math.abs(moved.length - targets.length / (n + 1))).toBeLessThan(0.2 * (targets.length / (n + 1)))
      // and back: leaving moves only what the leaver held
      const back = targets.filter((t) => after.get(t) !== before.get(t))
      expect(back.every((t) => after.get(t) === String(n))).toBe(true)
    }
  })

  it('does not depend on member order', () => {
    expect(assignment(['a', 'b', 'c'])).toEqual(assignment(['c', 'a', 'b']))
  })
})
