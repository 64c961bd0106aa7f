// The controller's side of the assignment document (format and parser: src/protocol/assignment.ts):
// the next document for a replica count, planned from the previous one (planner: src/partitions).
// Pure.
import { parsePartitions, plan, replicaNames, assignmentsOf, type Plan } from '../partitions/index.js'
import type { AssignmentDoc } from '../protocol/assignment.js'

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
