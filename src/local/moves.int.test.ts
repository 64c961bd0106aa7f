// The supervisor's assignment PUT against a real mqreader: a 409 (the reader holds a newer generation)
// is never taken as accepted, and a refused token fails at once instead of retrying for a minute.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { startReader, type RunningReader } from '../../test/support/mqreader.js'
import { putAssignment, StaleAssignmentError } from './moves.js'
import type { ManagedProcess } from './process.js'

const CONTROL = 'control-token-for-the-moves-test'
const auth = { authorization: `Bearer ${CONTROL}` }

describe('putAssignment', () => {
  let db: TestDatabase
  let reader: RunningReader
  let proc: ManagedProcess

  beforeAll(async () => {
    db = await createTestDatabase()
    reader = await startReader(db, { readerName: 'mqreader-0', partitions: undefined, controlToken: CONTROL })
    // putAssignment needs only the name and the URL of the process it talks to
    proc = { url: reader.url, spec: { name: 'mqreader-0' } } as unknown as ManagedProcess
  })
  afterAll(async () => {
    await reader?.close()
    await db?.drop()
  })

  it('resolves when the reader takes the generation', async () => {
    await putAssignment(proc, '0-9', 3, auth)
    const view = (await (await fetch(`${reader.url}/v1/assignment`)).json()) as { generation: number }
    expect(view.generation).toBe(3)
  })

  it('a 409 is not accepted: it rejects naming the generation in force', async () => {
    // someone else set a newer generation
    const r = await fetch(`${reader.url}/v1/assignment`, { method: 'PUT', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ partitions: '0-9', generation: 50 }) })
    expect(r.status).toBe(200)
    const err = await putAssignment(proc, '0-99', 4, auth).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err, 'a 409 resolved as if accepted').not.toBeUndefined()
    expect(err).toBeInstanceOf(StaleAssignmentError)
    expect((err as StaleAssignmentError).inForce).toBe(50)
    expect((err as Error).message).toMatch(/mqreader-0 refused assignment generation 4: it holds generation 50/)
  })

  it('a wrong control token fails at once with the reader’s reason (no minute of retries)', async () => {
    const t0 = Date.now()
    await expect(putAssignment(proc, '0-9', 60, { authorization: 'Bearer wrong-token-wrong-token' })).rejects.toThrow(/refused its assignment \(HTTP 403\): the token is not valid/)
    expect(Date.now() - t0).toBeLessThan(5000)
  })
})
