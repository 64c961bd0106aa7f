// The assignment document: what the partition-controller (or `tpipe dev`) writes under `partitions.json`
// in the mqreader-partitions ConfigMap, and what every reader reads back (through the API watch, the
// mounted file, or PUT /v1/assignment for one reader's part).
//   {"generation": 3, "replicas": 3, "assignments": {"mqreader-0": "0-85", "mqreader-1": "86-170", …}}
// One parser for every reader of it; pure (no I/O), so services and the controller both import it.
import { Type, type Static } from '@sinclair/typebox'
import { parse as parseYaml } from 'yaml'
import { PARTITION_COUNT } from '../partitions/hash.js'
import { formatPartitions, parsePartitions } from '../partitions/ranges.js'

export const ASSIGNMENT_KEY = 'partitions.json'

/**
 * Largest generation accepted anywhere: far above any real count, far below what would freeze a reader
 * (a generation of 1e308 once made every later one "stale" until a restart).
 */
export const MAX_GENERATION = 2 ** 31 - 1

/** A partition list as a range string ("0-63,128-191") or an array of partition numbers. */
export const PartitionList = Type.Union([
  Type.String({ maxLength: 2000, description: 'Partition ranges, e.g. "0-63,128-191" ("" or "none": no partitions).' }),
  Type.Array(Type.Integer({ minimum: 0, maximum: PARTITION_COUNT - 1 }), { maxItems: PARTITION_COUNT * 4 }),
])

/** The document as written (JSON; YAML is read too). `replicas` and `assignments` may be left out by hand. */
export const AssignmentDocument = Type.Object({
  /** Increases by one with every change; readers ignore a document older than the one they applied. */
  generation: Type.Integer({ minimum: 0, maximum: MAX_GENERATION }),
  replicas: Type.Optional(Type.Integer({ minimum: 0 })),
  /** reader (pod) name → its partitions. */
  assignments: Type.Optional(Type.Record(Type.String(), PartitionList)),
})

/** The document once parsed: every entry normalised to a range string. */
export interface AssignmentDoc {
  generation: number
  replicas: number
  /** pod name → partition ranges, e.g. "0-63". */
  assignments: Record<string, string>
}

/** What every assignment source hands a reader. `partitions: null` means "no entry for this reader". */
export interface Assignment {
  readonly generation: number
  readonly partitions: readonly number[] | null
}

/**
 * Where assignments go (mqreader's PartitionOwner): whatever it throws (a stale generation, shutting
 * down) is the source's to log, never fatal.
 */
export interface AssignmentSink {
  applyAssignment(a: Assignment): unknown
}

/** The body of PUT /v1/assignment: one reader's partitions. */
export const AssignmentPut = Type.Object(
  {
    partitions: PartitionList,
    generation: Type.Integer({ minimum: 0, maximum: MAX_GENERATION }),
  },
  { additionalProperties: false },
)
export type AssignmentPut = Static<typeof AssignmentPut>

/** GET|PUT /v1/assignment answer: what a reader serves now. */
export const AssignmentView = Type.Object({
  reader: Type.String(),
  generation: Type.Integer({ description: '-1 before the first assignment' }),
  owned: Type.String({ description: 'Partitions locked and served.' }),
  draining: Type.String({ description: 'Partitions no longer assigned, waiting for their leases to end.' }),
  waiting: Type.String({ description: 'Partitions assigned whose lock is not (yet) held.' }),
})
export type AssignmentView = Static<typeof AssignmentView>

/** A partition list as a range string or an array of integers, sorted and de-duplicated. */
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
 * Parses the document (JSON or YAML). Every entry is validated; an array entry is normalised to its
 * range string. A missing `assignments` is an empty one; a missing `replicas` is the number of entries.
 * Throws with the reason: the caller keeps the assignment in force.
 */
export function parseAssignmentDoc(text: string): AssignmentDoc {
  let raw: unknown
  try {
    raw = parseYaml(text, { logLevel: 'error' }) // a warning (e.g. an unknown %directive) must not reach stderr: errors still throw
  } catch (err) {
    throw new Error(`assignment document is not JSON or YAML: ${(err as Error).message}`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('assignment document must hold an object')
  const o = raw as Record<string, unknown>
  const generation = o.generation
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0 || generation > MAX_GENERATION) {
    throw new Error(`assignment document: generation must be an integer 0..${MAX_GENERATION}`)
  }
  const entries = o.assignments ?? {}
  if (entries === null || typeof entries !== 'object' || Array.isArray(entries)) {
    throw new Error('assignment document: assignments must be an object {readerName: "0-63"}')
  }
  const assignments: Record<string, string> = {}
  for (const [name, spec] of Object.entries(entries as Record<string, unknown>)) {
    if (spec === undefined || spec === null) continue
    try {
      const list = parsePartitionList(spec)
      assignments[name] = typeof spec === 'string' ? spec : formatPartitions(list)
    } catch (err) {
      throw new Error(`assignment document: entry ${name}: ${(err as Error).message}`)
    }
  }
  const replicas = o.replicas ?? Object.keys(assignments).length
  if (typeof replicas !== 'number' || !Number.isSafeInteger(replicas) || replicas < 0) {
    throw new Error('assignment document: replicas must be a non-negative integer')
  }
  return { generation, replicas, assignments }
}

export function formatAssignmentDoc(doc: AssignmentDoc): string {
  return JSON.stringify({ generation: doc.generation, replicas: doc.replicas, assignments: doc.assignments }, null, 2) + '\n'
}

/** What one reader takes from a document: its own partitions, or null when it has no entry. */
export function readerAssignment(doc: AssignmentDoc, readerName: string): Assignment {
  const spec = doc.assignments[readerName]
  return { generation: doc.generation, partitions: spec === undefined ? null : parsePartitions(spec) }
}
