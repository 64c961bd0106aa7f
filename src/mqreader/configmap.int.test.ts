// mqreader fed by the partition-controller's ConfigMap through the Kubernetes API (the fake API server
// the real client talks to) on a real PostgreSQL: it serves nothing until its entry appears, then
// exactly its range; a new generation moves it live; an older generation is ignored.
import { writeFileSync } from 'node:fs'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ASSIGNMENT_KEY, formatAssignmentDoc, type AssignmentDoc } from '../protocol/assignment.js'
import { createTestDatabase, type TestDatabase } from '../testing/db.js'
import { startKubeFake, type KubeFake } from '../testing/kube-fake.js'
import { startReader, waitFor, type RunningReader } from './test-support.js'

const NS = 'tpipe'

describe('mqreader assignment from the ConfigMap watch', () => {
  let db: TestDatabase
  let fake: KubeFake
  let reader: RunningReader | undefined
  beforeAll(async () => {
    db = await createTestDatabase()
    fake = await startKubeFake({ namespace: NS })
  })
  afterAll(async () => {
    await reader?.close()
    await fake.close()
    await db.drop()
  })

  const putDoc = (doc: AssignmentDoc) => {
    const cur = fake.get('configmap', NS, 'mqreader-partitions')
    fake.put('configmap', { ...(cur ?? { metadata: { name: 'mqreader-partitions', namespace: NS } }), data: { [ASSIGNMENT_KEY]: formatAssignmentDoc(doc) } })
  }
  const assignment = async () => (await (await fetch(`${reader!.url}/v1/assignment`)).json()) as { generation: number; owned: string }

  it('follows the ConfigMap: no entry → nothing and not ready; its range; a live move; stale generations ignored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tpipe-kube-'))
    const kubeconfig = join(dir, 'config')
    writeFileSync(kubeconfig, fake.kubeconfigYaml({ token: 'reader', namespace: NS }))
    reader = await startReader(db, { readerAssignmentConfigMap: 'mqreader-partitions', kubeconfig, namespace: NS, readerName: 'mqreader-1', partitions: undefined })

    await waitFor(async () => (await fetch(`${reader!.url}/readyz`)).status === 503 || undefined, 10_000, 'not ready without an entry')
    expect((await assignment()).owned).toBe('')

    putDoc({ generation: 1, replicas: 2, assignments: { 'mqreader-0': '0-127', 'mqreader-1': '128-255' } })
    await waitFor(async () => (await assignment()).owned === '128-255' || undefined, 20_000, 'generation 1 owned')
    await waitFor(async () => (await fetch(`${reader!.url}/readyz`)).status === 200 || undefined, 10_000, 'ready with an entry')

    putDoc({ generation: 2, replicas: 4, assignments: { 'mqreader-0': '0-63', 'mqreader-1': '128-191', 'mqreader-2': '64-127', 'mqreader-3': '192-255' } })
    await waitFor(async () => (await assignment()).owned === '128-191' || undefined, 20_000, 'generation 2 owned')
    expect((await assignment()).generation).toBe(2)

    putDoc({ generation: 1, replicas: 2, assignments: { 'mqreader-0': '0-127', 'mqreader-1': '128-255' } })
    await new Promise((r) => setTimeout(r, 1000))
    expect(await assignment()).toMatchObject({ generation: 2, owned: '128-191' })
    // the reader only read: list/watch of the one ConfigMap
    expect(fake.writesBy('reader')).toEqual([])
    expect(fake.requests.filter((r) => r.token === 'reader').every((r) => r.path.includes('/configmaps'))).toBe(true)
  })
})
