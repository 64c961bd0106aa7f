import { PARTITION_COUNT } from './hash.js'
import { formatPartitions } from './ranges.js'

/** replica name → contiguous range, e.g. {"mqreader-0": {start: 0, end: 63}}; end inclusive. */
export interface Range {
  readonly start: number
  readonly end: number
}
export type Plan = Readonly<Record<string, Range>>

export interface Move {
  readonly partition: number
  /** Previous owner, or null when nobody owned it. */
  readonly from: string | null
  /** New owner, or null when nobody owns it now (zero replicas). */
  readonly to: string | null
}

/**
 * The balanced contiguous layout for n replicas: n ranges covering 0..255 in order, sizes within one of
 * each other (the first 256 mod n ranges get one extra partition).
 */
export function layout(n: number): Range[] {
  if (n > PARTITION_COUNT) throw new Error(`at most ${PARTITION_COUNT} replicas can own partitions`)
  const base = Math.floor(PARTITION_COUNT / Math.max(n, 1))
  const extra = PARTITION_COUNT % Math.max(n, 1)
  const out: Range[] = []
  let start = 0
  for (let i = 0; i < n; i++) {
    const size = base + (i < extra ? 1 : 0)
    out.push({ start, end: start + size - 1 })
    start += size
  }
  return out
}

/**
 * Assigns the balanced contiguous layout for `names` to those names.
 *
 * Without a previous plan, range i goes to names[i] (StatefulSet ordinal order): every planner computes
 * the same plan from the same names. With a previous plan, ranges go to the names that already own most
 * of them — a maximum-overlap assignment (Hungarian algorithm) — so a scale change moves the fewest
 * partitions any assignment of this layout can: 2 → 4 replicas moves 128 partitions, not 192.
 */
export function plan(names: readonly string[], previous?: Plan): Plan {
  const n = names.length
  const out: Record<string, Range> = {}
  if (n === 0) return out
  if (new Set(names).size !== n) throw new Error('replica names must be unique')
  const ranges = layout(n)
  if (!previous || Object.keys(previous).length === 0) {
    names.forEach((name, i) => (out[name] = ranges[i]!))
    return out
  }
  const overlap = (name: string, r: Range): number => {
    const p = previous[name]
    if (!p) return 0
    return Math.max(0, Math.min(p.end, r.end) - Math.max(p.start, r.start) + 1)
  }
  // cost[i][j] = partitions that would move if names[i] took ranges[j]
  const cost = names.map((name) => ranges.map((r) => r.end - r.start + 1 - overlap(name, r)))
  const assignment = hungarian(cost)
  names.forEach((name, i) => (out[name] = ranges[assignment[i]!]!))
  return out
}

/**
 * Minimum-cost perfect assignment for a square cost matrix (Kuhn–Munkres, O(n^3) with potentials).
 * Returns, for each row, the column assigned to it. Deterministic: ties resolve to lower indices.
 */
export function hungarian(cost: readonly (readonly number[])[]): number[] {
  const n = cost.length
  const INF = Number.MAX_SAFE_INTEGER
  const u = new Array<number>(n + 1).fill(0)
  const v = new Array<number>(n + 1).fill(0)
  const p = new Array<number>(n + 1).fill(0) // p[j]: row matched to column j (1-based), 0 = none
  const way = new Array<number>(n + 1).fill(0)
  for (let i = 1; i <= n; i++) {
    p[0] = i
    let j0 = 0
    const minv = new Array<number>(n + 1).fill(INF)
    const used = new Array<boolean>(n + 1).fill(false)
    do {
      used[j0] = true
      const i0 = p[j0]!
      let delta = INF
      let j1 = 0
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue
        const cur = cost[i0 - 1]![j - 1]! - u[i0]! - v[j]!
        if (cur < minv[j]!) {
          minv[j] = cur
          way[j] = j0
        }
        if (minv[j]! < delta) {
          delta = minv[j]!
          j1 = j
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[p[j]!] = u[p[j]!]! + delta
          v[j] = v[j]! - delta
        } else minv[j] = minv[j]! - delta
      }
      j0 = j1
    } while (p[j0] !== 0)
    do {
      const j1 = way[j0]!
      p[j0] = p[j1]!
      j0 = j1
    } while (j0 !== 0)
  }
  const result = new Array<number>(n).fill(-1)
  for (let j = 1; j <= n; j++) if (p[j]! > 0) result[p[j]! - 1] = j - 1
  return result
}

/** Stable replica names of a StatefulSet-like workload: mqreader-0 … mqreader-(n-1). */
export function replicaNames(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}`)
}

/** partition → owner (or null) for a plan. */
export function ownerTable(p: Plan): (string | null)[] {
  const owners: (string | null)[] = new Array(PARTITION_COUNT).fill(null)
  for (const [name, r] of Object.entries(p)) for (let i = r.start; i <= r.end; i++) owners[i] = name
  return owners
}

/** The partitions whose owner differs between two plans. */
export function diff(from: Plan, to: Plan): Move[] {
  const a = ownerTable(from)
  const b = ownerTable(to)
  const moves: Move[] = []
  for (let i = 0; i < PARTITION_COUNT; i++) if (a[i] !== b[i]) moves.push({ partition: i, from: a[i] ?? null, to: b[i] ?? null })
  return moves
}

/** "0-63" for a range; the form the assignment ConfigMap and the readers' API use. */
export function rangeText(r: Range): string {
  return r.start === r.end ? `${r.start}` : `${r.start}-${r.end}`
}

/** A plan as {name: "0-63"} — the ConfigMap's `assignments` object. */
export function assignmentsOf(p: Plan): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, r] of Object.entries(p)) out[name] = rangeText(r)
  return out
}

/** Summarises moves per (from → to) pair: "mqreader-0 → mqreader-1: 48-63". */
export function describeMoves(moves: readonly Move[]): string[] {
  const groups = new Map<string, number[]>()
  for (const m of moves) {
    const k = `${m.from ?? '(none)'} → ${m.to ?? '(none)'}`
    const g = groups.get(k) ?? []
    g.push(m.partition)
    groups.set(k, g)
  }
  return [...groups].map(([k, ps]) => `${k}: ${formatPartitions(ps)}`)
}
