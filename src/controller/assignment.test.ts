import { describe, expect, it } from 'vitest'
import { diff } from '../partitions/index.js'
import { nextAssignmentDoc, planOf } from './assignment.js'

describe('assignment document', () => {
  it('first document: generation 1, ordinal order', () => {
    expect(nextAssignmentDoc(undefined, 'mqreader', 4)).toEqual({
      generation: 1,
      replicas: 4,
      assignments: { 'mqreader-0': '0-63', 'mqreader-1': '64-127', 'mqreader-2': '128-191', 'mqreader-3': '192-255' },
    })
  })

  it('same replicas and plan: no new generation; a change: generation + 1 with minimal moves', () => {
    const g1 = nextAssignmentDoc(undefined, 'mqreader', 2)!
    expect(nextAssignmentDoc(g1, 'mqreader', 2)).toBeUndefined()
    const g2 = nextAssignmentDoc(g1, 'mqreader', 4)!
    expect(g2.generation).toBe(2)
    // 2 → 4 moves half the partitions (128), the fewest possible.
    expect(diff(planOf(g1)!, planOf(g2)!)).toHaveLength(128)
    const g3 = nextAssignmentDoc(g2, 'mqreader', 0)!
    expect(g3).toEqual({ generation: 3, replicas: 0, assignments: {} })
  })
})
