// mqreader's assignment-file source (src/mqreader/assignment-file.ts) fed the way the kubelet updates a
// mounted ConfigMap: `..data` symlink swapped over a new timestamped directory, the visible file a
// symlink through it. The sink has the owner's generation rule; live moves with real locks are covered by
// mqreader's own integration test.
import { mkdtempSync, readFileSync, lstatSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { watchAssignmentFile, type FileWatch } from '../mqreader/assignment-file.js'
import { TpipeError } from '../errors.js'
import { eventually, kubeletAtomicWrite } from '../testing/kube-fake.js'
import { ASSIGNMENT_KEY, formatAssignmentDoc, type Assignment } from '../protocol/assignment.js'
import { nextAssignmentDoc } from './assignment.js'

let fw: FileWatch | undefined
afterEach(() => {
  fw?.close()
  fw = undefined
})

function ownerLike() {
  const applied: Assignment[] = []
  let generation = -1
  return {
    applied,
    applyAssignment(a: Assignment) {
      if (a.generation < generation) throw new TpipeError('TPIPE_ERR_STALE_GENERATION')
      generation = a.generation
      applied.push(a)
    },
  }
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i)

describe('assignment file swapped like the kubelet does it', () => {
  it('follows ..data swaps: no entry, then its range, moves, ignores an older generation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tpipe-mount-'))
    const file = join(dir, ASSIGNMENT_KEY)
    const g1 = nextAssignmentDoc(undefined, 'mqreader', 1)! // only mqreader-0
    kubeletAtomicWrite(dir, { [ASSIGNMENT_KEY]: formatAssignmentDoc(g1) })
    expect(lstatSync(file).isSymbolicLink()).toBe(true)

    const sink = ownerLike()
    // A long poll: changes must be seen through the directory watch, not the periodic re-read.
    fw = watchAssignmentFile(file, 'mqreader-1', sink, { pollMs: 60_000, log: pino({ level: 'silent' }) })
    await eventually(() => sink.applied.length === 1, { what: 'first read' })
    expect(sink.applied[0]).toEqual({ generation: 1, partitions: null })

    const g2 = nextAssignmentDoc(g1, 'mqreader', 2)!
    kubeletAtomicWrite(dir, { [ASSIGNMENT_KEY]: formatAssignmentDoc(g2) })
    await eventually(() => sink.applied.length === 2, { what: 'generation 2 through the ..data swap' })
    expect(sink.applied[1]).toEqual({ generation: 2, partitions: range(128, 255) })

    const g3 = nextAssignmentDoc(g2, 'mqreader', 4)!
    kubeletAtomicWrite(dir, { [ASSIGNMENT_KEY]: formatAssignmentDoc(g3) })
    await eventually(() => sink.applied.length === 3, { what: 'generation 3' })
    expect(sink.applied[2]).toEqual({ generation: 3, partitions: range(128, 191) })

    // An older document (e.g. a stale ConfigMap restored) is refused; a newer one after it still applies.
    kubeletAtomicWrite(dir, { [ASSIGNMENT_KEY]: formatAssignmentDoc({ ...g2, generation: 2 }) })
    await fw.reload()
    expect(JSON.parse(readFileSync(file, 'utf8')).generation).toBe(2)
    const g4 = { ...nextAssignmentDoc(g3, 'mqreader', 1)!, generation: 4 }
    kubeletAtomicWrite(dir, { [ASSIGNMENT_KEY]: formatAssignmentDoc(g4) })
    await eventually(() => sink.applied.length === 4, { what: 'generation 4' })
    expect(sink.applied.map((a) => a.generation)).toEqual([1, 2, 3, 4])
    expect(sink.applied[3]).toEqual({ generation: 4, partitions: null })
  })
})
