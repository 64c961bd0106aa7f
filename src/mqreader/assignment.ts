import { parse as parseYaml } from 'yaml'
import { PARTITION_COUNT } from '../partitions/hash.js'
import { parsePartitions } from '../partitions/ranges.js'

/** What every assignment source hands the owner. `partitions: null` means "no entry for this reader". */
export interface Assignment {
  readonly generation: number
  readonly partitions: readonly number[] | null
}

/** A partition list as a range string ("0-63,128-191") or an array of partition numbers. */
export function parsePartitionList(v: unknown): number[] {
  if (typeof v === 'string') return parsePartitions(v)
  if (Array.isArray(v)) {
    const out = new Set<number>()
    for (const p of v) {
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= PARTITION_COUNT) {
        throw new Error(`bad partition ${JSON.stringify(p)}: partitions are integers 0-${PARTITION_COUNT - 1}`)
      }
      out.add(p)
    }
    return [...out].sort((a, b) => a - b)
  }
  throw new Error('partitions must be a range string such as "0-63,128-191" or an array of integers')
}

/**
 * Parses the assignment file (the partition-controller's ConfigMap `mqreader-partitions`, key
 * `partitions.json`): `{"generation": 3, "replicas": 2, "assignments": {"mqreader-0": "0-127", …}}`.
 * JSON or YAML. Returns this reader's assignment, with `partitions: null` when it has no entry.
 * Throws on a malformed file: the caller keeps the assignment in force.
 */
export function parseAssignmentFile(text: string, readerName: string): Assignment {
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw new Error(`assignment file is not JSON or YAML: ${(err as Error).message}`)
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('assignment file must hold an object')
  const o = doc as Record<string, unknown>
  const generation = o.generation
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) {
    throw new Error('assignment file: generation must be a non-negative integer')
  }
  const assignments = o.assignments ?? {}
  if (assignments === null || typeof assignments !== 'object' || Array.isArray(assignments)) {
    throw new Error('assignment file: assignments must be an object {readerName: "0-63"}')
  }
  const mine = (assignments as Record<string, unknown>)[readerName]
  if (mine === undefined || mine === null) return { generation, partitions: null }
  try {
    return { generation, partitions: parsePartitionList(mine) }
  } catch (err) {
    throw new Error(`assignment file: entry ${readerName}: ${(err as Error).message}`)
  }
}
