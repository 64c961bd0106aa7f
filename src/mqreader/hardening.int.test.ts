// Issue 17 on the read side: the queue's bodies are typed exactly (no coercion), the assignment
// generation is bounded, and lease/ack/assignment need their tokens when set.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { MAX_GENERATION } from './app.js'
import { startReader, type RunningReader } from '../../test/support/mqreader.js'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.drop()
})

const QUEUE = 'queue-token-0123456789abcdef'
const CONTROL = 'control-token-0123456789abcdef'

async function call(r: RunningReader, method: 'POST' | 'PUT', url: string, payload: unknown, token?: string) {
  const res = await r.app.inject({ method, url, payload: payload as object, headers: token ? { authorization: `Bearer ${token}` } : {} })
  return { status: res.statusCode, body: res.json() as { error?: { code: string; message: string } } & Record<string, unknown> }
}

describe('mqreader hardening (issue 17)', () => {
  it('does not coerce the queue bodies: "1", true, [1] and "7" are refused with 400', async () => {
    const r = await startReader(db, { readerName: 'coerce' })
    try {
      for (const max of ['1', true, [1]]) {
        const a = await call(r, 'POST', '/v1/lease', { max })
        expect(a.status, `max ${JSON.stringify(max)}`).toBe(400)
        expect(a.body.error?.code).toBe('TPIPE_ERR_VALIDATION')
      }
      expect((await call(r, 'POST', '/v1/lease', { max: 1, wait_ms: '0' })).status).toBe(400)
      for (const maxBytes of ['4096', 10, 2 ** 31]) {
        const a = await call(r, 'POST', '/v1/lease', { max: 1, max_bytes: maxBytes })
        expect(a.status, `max_bytes ${JSON.stringify(maxBytes)}`).toBe(400)
        expect(a.body.error?.message).toMatch(/max_bytes/)
      }
      expect((await call(r, 'POST', '/v1/ack', { lease_id: 7 })).status).toBe(400)
      expect((await call(r, 'POST', '/v1/release', { lease_ids: [7] })).status).toBe(400)
      expect((await call(r, 'POST', '/v1/release', { lease_ids: 'x' })).status).toBe(400)
      expect((await call(r, 'PUT', '/v1/assignment', { partitions: '0-255', generation: '7' })).status).toBe(400)
      expect((await call(r, 'POST', '/v1/lease', { max: 1 })).status).toBe(200)
    } finally {
      await r.close()
    }
  })

  it('POST /v1/release answers bad bodies with 400 and the JSON error body naming the field', async () => {
    const r = await startReader(db, { readerName: 'relbad' })
    try {
      const bad: [unknown, RegExp][] = [
        [undefined, /body/],
        [{}, /lease_ids/],
        [{ lease_ids: [] }, /lease_ids/],
        [{ lease_ids: [''] }, /lease_ids\/0/],
        [{ lease_ids: ['x'.repeat(101)] }, /lease_ids\/0/],
        [{ lease_ids: Array.from({ length: 1001 }, (_, i) => `l${i}`) }, /lease_ids/],
        [{ lease_ids: ['x'], msg_uuids: [] }, /additional|msg_uuids/],
        [{ lease_id: 'x' }, /lease_id/],
      ]
      for (const [payload, field] of bad) {
        const a = await call(r, 'POST', '/v1/release', payload)
        expect(a.status, JSON.stringify(payload)?.slice(0, 60)).toBe(400)
        expect(a.body.error?.code).toBe('TPIPE_ERR_VALIDATION')
        expect(a.body.error?.message).toMatch(field)
      }
      const notJson = await r.app.inject({ method: 'POST', url: '/v1/release', payload: '{"lease_ids":', headers: { 'content-type': 'application/json' } })
      expect(notJson.statusCode).toBe(400)
      expect(notJson.json().error.code).toMatch(/^TPIPE_ERR_/)
      expect((await call(r, 'POST', '/v1/release', { lease_ids: ['x', 'x'] })).body).toEqual({ released_leases: 0, released_messages: 0, unknown: 1 })
    } finally {
      await r.close()
    }
  })

  it('bounds generation: 1e308 is refused and cannot freeze the assignment', async () => {
    const r = await startReader(db, { readerName: 'gen' })
    try {
      const huge = await call(r, 'PUT', '/v1/assignment', { partitions: '0-255', generation: 1e308 })
      expect(huge.status).toBe(400)
      expect(huge.body.error?.message).toMatch(/generation/)
      expect((await call(r, 'PUT', '/v1/assignment', { partitions: '0-255', generation: 5 })).status).toBe(200)
      expect((await call(r, 'PUT', '/v1/assignment', { partitions: '0-255', generation: MAX_GENERATION + 1 })).status).toBe(400)
    } finally {
      await r.close()
    }
  })

  it('lease and ack need TPIPE_QUEUE_TOKEN, assignment needs TPIPE_CONTROL_TOKEN; health stays open', async () => {
    const r = await startReader(db, { readerName: 'auth', queueToken: QUEUE, controlToken: CONTROL })
    try {
      const none = await call(r, 'POST', '/v1/lease', { max: 1 })
      expect(none.status).toBe(401)
      expect(none.body.error?.code).toBe('TPIPE_ERR_UNAUTHENTICATED')
      const wrong = await call(r, 'POST', '/v1/lease', { max: 1 }, CONTROL)
      expect(wrong.status).toBe(403)
      expect(wrong.body.error?.code).toBe('TPIPE_ERR_FORBIDDEN')
      expect((await call(r, 'POST', '/v1/lease', { max: 1 }, QUEUE)).status).toBe(200)
      expect((await call(r, 'POST', '/v1/ack', { lease_id: 'x' })).status).toBe(401)
      expect((await call(r, 'POST', '/v1/ack', { lease_id: 'x' }, 'w'.repeat(30))).status).toBe(403)
      const relNone = await call(r, 'POST', '/v1/release', { lease_ids: ['x'] })
      expect(relNone.status).toBe(401)
      expect(relNone.body.error?.code).toBe('TPIPE_ERR_UNAUTHENTICATED')
      const relWrong = await call(r, 'POST', '/v1/release', { lease_ids: ['x'] }, CONTROL)
      expect(relWrong.status).toBe(403)
      expect(relWrong.body.error?.code).toBe('TPIPE_ERR_FORBIDDEN')
      expect((await call(r, 'POST', '/v1/release', { lease_ids: ['x'] }, QUEUE)).body).toEqual({ released_leases: 0, released_messages: 0, unknown: 1 })
      expect((await call(r, 'PUT', '/v1/assignment', { partitions: '0-255', generation: 9 }, QUEUE)).status).toBe(403)
      expect((await call(r, 'PUT', '/v1/assignment', { partitions: '0-255', generation: 9 })).status).toBe(401)
      expect((await call(r, 'PUT', '/v1/assignment', { partitions: '0-255', generation: 9 }, CONTROL)).status).toBe(200)
      for (const url of ['/healthz', '/metrics']) expect((await r.app.inject({ method: 'GET', url })).statusCode).toBe(200)
      expect((await r.app.inject({ method: 'GET', url: '/readyz' })).statusCode).not.toBe(401)
    } finally {
      await r.close()
    }
  })
})
