// mqreader's ConfigMap assignment source against the API fake: the real client lists and watches the one
// ConfigMap (fieldSelector), and the reader gets its own entry, "no entry", and every later generation.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { eventually, startKubeFake, type KubeFake } from '../testing/kube-fake.js'
import { ASSIGNMENT_KEY, formatAssignmentDoc, type AssignmentDoc, type Assignment } from '../protocol/assignment.js'
import { watchAssignmentConfigMap, type AssignmentWatch } from './assignment-watch.js'

const NS = 'tpipe'
let fake: KubeFake
let w: AssignmentWatch | undefined

/** A sink with the owner's generation rule: an older generation is refused (throws). */
function recordingSink() {
  const applied: Assignment[] = []
  let generation = -1
  return {
    applied,
    applyAssignment(a: Assignment) {
      if (a.generation < generation) throw new Error(`generation ${a.generation} is older than ${generation}`)
      generation = a.generation
      applied.push(a)
    },
  }
}

function putDoc(doc: AssignmentDoc): void {
  const cur = fake.get('configmap', NS, 'mqreader-partitions')
  fake.put('configmap', { ...(cur ?? { metadata: { name: 'mqreader-partitions', namespace: NS } }), data: { [ASSIGNMENT_KEY]: formatAssignmentDoc(doc) } })
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i)

beforeEach(async () => {
  fake = await startKubeFake({ namespace: NS })
})
afterEach(async () => {
  await w?.stop()
  w = undefined
  await fake.close()
})

const start = (sink: ReturnType<typeof recordingSink>, readerName = 'mqreader-1') =>
  (w = watchAssignmentConfigMap({ kubeConfig: fake.kubeConfig({ token: 'reader', namespace: NS }), namespace: NS, configMap: 'mqreader-partitions', readerName, relistIntervalMs: 30_000 }, sink))

describe('ConfigMap assignment watch', () => {
  it('no ConfigMap yet: the reader is told it has no entry; then it gets its range and every new generation', async () => {
    const sink = recordingSink()
    start(sink)
    await eventually(() => sink.applied.length === 1, { what: 'first call' })
    expect(sink.applied[0]).toEqual({ generation: 0, partitions: null })

    putDoc({ generation: 1, replicas: 2, assignments: { 'mqreader-0': '0-127', 'mqreader-1': '128-255' } })
    await eventually(() => sink.applied.length === 2, { what: 'generation 1' })
    expect(sink.applied[1]).toEqual({ generation: 1, partitions: range(128, 255) })

    putDoc({ generation: 2, replicas: 4, assignments: { 'mqreader-0': '0-63', 'mqreader-1': '128-191', 'mqreader-2': '64-127', 'mqreader-3': '192-255' } })
    await eventually(() => sink.applied.length === 3, { what: 'generation 2' })
    expect(sink.applied[2]).toEqual({ generation: 2, partitions: range(128, 191) })

    // The reader's entry disappears (scaled in below it): it is told so.
    putDoc({ generation: 3, replicas: 1, assignments: { 'mqreader-0': '0-255' } })
    await eventually(() => sink.applied.length === 4, { what: 'generation 3' })
    expect(sink.applied[3]).toEqual({ generation: 3, partitions: null })

    // Only the one ConfigMap is listed and watched.
    const reads = fake.requests.filter((r) => r.token === 'reader')
    expect(reads.every((r) => r.method === 'GET' && r.path === `/api/v1/namespaces/${NS}/configmaps` && r.query.fieldSelector === 'metadata.name=mqreader-partitions')).toBe(true)
    expect(reads.some((r) => r.query.watch === 'true')).toBe(true)
  })

  it('an older generation is handed over but refused by the owner; an invalid document keeps the one in force', async () => {
    putDoc({ generation: 5, replicas: 2, assignments: { 'mqreader-0': '0-127', 'mqreader-1': '128-255' } })
    const sink = recordingSink()
    start(sink)
    await eventually(() => sink.applied.length === 1, { what: 'generation 5' })
    putDoc({ generation: 4, replicas: 1, assignments: { 'mqreader-1': '0-255' } })
    await eventually(() => w!.last?.generation === 4, { what: 'generation 4 seen' })
    expect(sink.applied).toEqual([{ generation: 5, partitions: range(128, 255) }])

    fake.put('configmap', { ...fake.get('configmap', NS, 'mqreader-partitions')!, data: { [ASSIGNMENT_KEY]: '{"generation": "six"' } })
    putDoc({ generation: 6, replicas: 2, assignments: { 'mqreader-0': '0-99', 'mqreader-1': '100-255' } })
    await eventually(() => sink.applied.length === 2, { what: 'generation 6' })
    expect(sink.applied[1]).toEqual({ generation: 6, partitions: range(100, 255) })
  })

  it('a change to another reader only is not handed over again; a closed watch is reopened', async () => {
    putDoc({ generation: 1, replicas: 2, assignments: { 'mqreader-0': '0-127', 'mqreader-1': '128-255' } })
    const sink = recordingSink()
    start(sink, 'mqreader-0')
    await eventually(() => sink.applied.length === 1 && fake.openWatches('configmap') === 1, { what: 'watching' })
    // Unrelated edit (labels): same generation, same entry → no new call.
    const cm = fake.get('configmap', NS, 'mqreader-partitions')!
    fake.put('configmap', { ...cm, metadata: { ...cm.metadata, labels: { x: 'y' } } })
    expect(fake.endWatches('configmap')).toBe(1)
    await eventually(() => fake.openWatches('configmap') === 1 && w!.watch.watches >= 2, { what: 'reopened' })
    putDoc({ generation: 2, replicas: 3, assignments: { 'mqreader-0': '0-85', 'mqreader-1': '171-255', 'mqreader-2': '86-170' } })
    await eventually(() => sink.applied.length === 2, { what: 'generation 2' })
    expect(sink.applied).toEqual([
      { generation: 1, partitions: range(0, 127) },
      { generation: 2, partitions: range(0, 85) },
    ])
  })
})
