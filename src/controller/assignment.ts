// The assignment document: what the partition-controller writes under `partitions.json` in the
// mqreader-partitions ConfigMap and what readers read back (through the API or the mounted file).
//   {"generation": 3, "replicas": 3, "assignments": {"mqreader-0": "0-85", "mqreader-1": "86-170", …}}
// Pure: parsing, formatting, and the next document for a replica count (planner: src/partitions).
import { parsePartitions, plan, replicaNames, assignmentsOf, type Plan } from '../partitions/index.js'

export const ASSIGNMENT_KEY = 'partitions.json'

export interface AssignmentDoc {
  /** Increases by one with every change; readers ignore a document older than the one they applied. */
  generation: number
  replicas: number
  /** pod name → partition ranges, e.g. "0-63". */
  assignments: Record<string, string>
}

/** A reader's own view of the document. partitions null: the document has no entry for it (serve nothing). */
export interface ReaderAssignment {
  generation: number
  partitions: number[] | null
}

/** Largest assignment generation accepted anywhere: far above any real count, far below what would
 * freeze a reader (every later, smaller generation refused as stale). */
export const MAX_GENERATION = 2 ** 31 - 1

/** Parses partitions.json; throws with the reason when it is not a valid assignment document. */
export function parseAssignmentDoc(text: string): AssignmentDoc {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new Error(`${ASSIGNMENT_KEY} is not JSON: ${(err as Error).message}`)
  }
  const o = raw as Partial<AssignmentDoc> | null
  if (!o || typeof o !== 'object') throw new Error(`${ASSIGNMENT_KEY} must be an object`)
  if (!Number.isSafeInteger(o.generation) || (o.generation as number) < 0 || (o.generation as number) > MAX_GENERATION) {
    throw new Error(`${ASSIGNMENT_KEY}: generation must be an integer 0..${MAX_GENERATION}`)
  }
  if (!Number.isSafeInteger(o.replicas) || (o.replicas as number) < 0) throw new Error(`${ASSIGNMENT_KEY}: replicas must be a non-negative integer`)
  if (!o.assignments || typeof o.assignments !== 'object' || Array.isArray(o.assignments)) throw new Error(`${ASSIGNMENT_KEY}: assignments must be an object`)
  const assignments: Record<string, string> = {}
  for (const [name, spec] of Object.entries(o.assignments)) {
    if (typeof spec !== 'string') throw new Error(`${ASSIGNMENT_KEY}: assignment of ${name} must be a string like "0-63"`)
    parsePartitions(spec) // validates
    assignments[name] = spec
  }
  return { generation: o.generation as number, replicas: o.replicas as number, assignments }
}

export function formatAssignmentDoc(doc: AssignmentDoc): string {
  return JSON.stringify({ generation: doc.generation, replicas: doc.replicas, assignments: doc.assignments }, null, 2) + '\n'
}

/** The plan a document describes (each entry's lowest..highest partition), for the planner's `previous`. */
export function planOf(doc: AssignmentDoc | undefined): Plan | undefined {
  if (!doc) return undefined
  const out: Record<string, { start: number; end: number }> = {}
  for (const [name, spec] of Object.entries(doc.assignments)) {
    const ps = parsePartitions(spec)
    if (ps.length > 0) out[name] = { start: ps[0]!, end: ps[ps.length - 1]! }
  }
  return out
}

function sameAssignments(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a)
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k])
}

/**
 * The document for `replicas` pods of `statefulSet`, planned from the previous one so that the fewest
 * partitions move; undefined when the previous document already says exactly that (no new generation:
 * a restarted or new leader does not make readers redo anything).
 */
export function nextAssignmentDoc(previous: AssignmentDoc | undefined, statefulSet: string, replicas: number): AssignmentDoc | undefined {
  const assignments = assignmentsOf(plan(replicaNames(statefulSet, replicas), planOf(previous)))
  if (previous && previous.replicas === replicas && sameAssignments(previous.assignments, assignments)) return undefined
  return { generation: (previous?.generation ?? 0) + 1, replicas, assignments }
}

/** What one reader takes from a document: its own partitions, or null when it has no entry. */
export function readerAssignment(doc: AssignmentDoc, podName: string): ReaderAssignment {
  const spec = doc.assignments[podName]
  return { generation: doc.generation, partitions: spec === undefined ? null : parsePartitions(spec) }
}
