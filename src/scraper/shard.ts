// Which scraper replica scrapes which target: rendezvous (highest-random-weight) hashing. Pure.
// Every replica computes the same answer from the same (targets, members), with no coordination; when a
// member joins or leaves, only the targets it wins or held move (the minimum), unlike `hash mod n`, which
// reshuffles almost everything when n changes.
import { fmix32, fnv1a32 } from '../partitions/hash.js'

function score(member: string, key: string): number {
  return fmix32(fnv1a32(`${member}\0${key}`))
}

/** The member that owns `key`: highest score, ties broken by name so every replica agrees. */
export function ownerOf(key: string, members: readonly string[]): string | undefined {
  let best: string | undefined
  let bestScore = -1
  for (const m of members) {
    const s = score(m, key)
    if (s > bestScore || (s === bestScore && best !== undefined && m < best)) {
      best = m
      bestScore = s
    }
  }
  return best
}

/** The keys `me` owns among `members` (me is counted as a member even when the list lacks it). */
export function mine<T>(items: readonly T[], keyOf: (t: T) => string, members: readonly string[], me: string): T[] {
  const all = members.includes(me) ? members : [...members, me]
  return items.filter((t) => ownerOf(keyOf(t), all) === me)
}

/** Static shards `i/n` as member names "0".."n-1". */
export function staticMembers(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i))
}
