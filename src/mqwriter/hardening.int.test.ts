// Issue 17 on the write side: one poison publish never fails its batch, memory is bounded in bytes,
// a publish is answered within a bound while the database hangs, bad input gets our 4xx, and the
// publish route needs its token.
import pg from 'pg'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/index.js'
import { createPool } from '../db/pool.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { buildMqwriter } from './app.js'

const silent = pino({ level: 'silent' })
const gpu = 'GPU-5fd4f087-86f3-7a43-b711-4771313afc50'

function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = { leaf: 1 }
  for (let i = 1; i < depth; i++) v = { a: v }
  return v
}
/** Nested JSON text built as a string: JSON.stringify of the object itself would overflow. */
function nestedText(depth: number): string {
  return `{"key":"${gpu}","payload":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`
}

describe('mqwriter hardening (issue 17)', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db.drop()
  })

  it('refuses a payload nested deeper than the limit with 400 naming the limit', async () => {
    const { app } = buildMqwriter(loadConfig({}, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    try {
      const res = await app.inject({ method: 'POST', url: '/v1/publish', headers: { 'content-type': 'application/json' }, payload: nestedText(4150) })
      expect(res.statusCode).toBe(400)
      expect(res.json().error.message).toMatch(/nested deeper than 64 levels/)
      const ok = await app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload: nested(60) } })
      expect(ok.statusCode).toBe(201)
    } finally {
      await app.close()
    }
  })

  it('a poison publish gets its own 4xx and never a 503 for the innocent publishes of its batch', async () => {
    // A large batch interval so that every publish below lands in the same batch.
    const { app } = buildMqwriter(loadConfig({ 'flush-interval-ms': '200', 'json-max-depth': '1000' }, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    try {
      const innocent = Array.from({ length: 50 }, (_, i) =>
        app.inject({ method: 'POST', url: '/v1/publish', payload: { key: `GPU-${i}`, payload: { i } } }),
      )
      const poison = [
        app.inject({ method: 'POST', url: '/v1/publish', headers: { 'content-type': 'application/json' }, payload: nestedText(100_000) }),
        app.inject({ method: 'POST', url: '/v1/publish', headers: { 'content-type': 'application/json' }, payload: nestedText(5000) }),
      ]
      const good = await Promise.all(innocent)
      const bad = await Promise.all(poison)
      expect(good.map((r) => r.statusCode)).toEqual(good.map(() => 201))
      expect(bad.map((r) => r.statusCode)).toEqual([400, 400])
    } finally {
      await app.close()
    }
  })

  it('bounds the buffer in bytes: 429 once the buffered payloads reach TPIPE_WRITER_BUFFER_BYTES', async () => {
    const locker = new pg.Client({ connectionString: db.url })
    await locker.connect()
    const { app, buffer } = buildMqwriter(loadConfig({ 'buffer-bytes': String(1024 * 1024), 'publish-timeout-ms': '60000' }, {}, 'mqwriter'), {
      pool: db.pool,
      logger: silent,
    })
    try {
      await locker.query('BEGIN')
      await locker.query('LOCK TABLE queue_messages IN ACCESS EXCLUSIVE MODE')
      const big = (n: number) => ({ key: gpu, payload: { blob: 'x'.repeat(n) } })
      const first = app.inject({ method: 'POST', url: '/v1/publish', payload: big(600_000) })
      await expect.poll(() => buffer.pending).toBe(1)
      const second = await app.inject({ method: 'POST', url: '/v1/publish', payload: big(600_000) })
      expect(second.statusCode).toBe(429)
      expect(second.json().error.message).toMatch(/bytes/)
      expect(second.headers['retry-after']).toBe('1')
      expect(buffer.pendingBytes).toBeLessThanOrEqual(1024 * 1024)
      await locker.query('ROLLBACK')
      expect((await first).statusCode).toBe(201)
    } finally {
      await locker.query('ROLLBACK').catch(() => {})
      await locker.end()
      await app.close()
    }
  })

  it('seals batches by bytes: big publishes are spread over several statements', async () => {
    const { app, registry } = buildMqwriter(loadConfig({ 'batch-bytes': String(64 * 1024), 'flush-interval-ms': '100' }, {}, 'mqwriter'), {
      pool: db.pool,
      logger: silent,
    })
    try {
      const res = await Promise.all(
        Array.from({ length: 10 }, (_, i) => app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload: { i, blob: 'y'.repeat(30_000) } } })),
      )
      expect(res.map((r) => r.statusCode)).toEqual(res.map(() => 201))
      const m = await registry.getSingleMetric('mqwriter_flush_batch_size')!.get()
      const count = m.values.find((v) => (v as { metricName?: string }).metricName === 'mqwriter_flush_batch_size_count')!.value
      expect(count).toBeGreaterThanOrEqual(5)
    } finally {
      await app.close()
    }
  })

  it('answers a publish within the bound while a lock holds the queue, /readyz false meanwhile, and keeps the message', async () => {
    const locker = new pg.Client({ connectionString: db.url })
    await locker.connect()
    const { app } = buildMqwriter(loadConfig({ 'publish-timeout-ms': '1000' }, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    try {
      await locker.query('BEGIN')
      await locker.query('LOCK TABLE queue_messages IN ACCESS EXCLUSIVE MODE')
      const id = '0193a4b2-0000-7000-8000-00000000a017'
      const t0 = Date.now()
      const res = await app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload: { v: 1 }, id } })
      const took = Date.now() - t0
      expect(res.statusCode).toBe(503)
      expect(res.headers['retry-after']).toBe('1')
      expect(took).toBeLessThan(3000)
      await new Promise((r) => setTimeout(r, 200))
      const ready = await app.inject({ method: 'GET', url: '/readyz' })
      expect(ready.statusCode).toBe(503)
      expect(ready.json().checks.flushing).toBe(false)
      await locker.query('COMMIT')
      await expect.poll(async () => (await db.pool.query('SELECT count(*)::int AS n FROM queue_messages WHERE msg_uuid = $1', [id])).rows[0].n).toBe(1)
      await expect.poll(async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200)
    } finally {
      await locker.query('ROLLBACK').catch(() => {})
      await locker.end()
      await app.close()
    }
  })

  it('the pool gives every session a lock timeout: a held lock fails the statement instead of hanging', async () => {
    const locker = new pg.Client({ connectionString: db.url })
    await locker.connect()
    const pool = createPool(db.url, { max: 1, statementTimeoutMs: 30_000, lockTimeoutMs: 300 })
    try {
      await locker.query('BEGIN')
      await locker.query('LOCK TABLE queue_messages IN ACCESS EXCLUSIVE MODE')
      const t0 = Date.now()
      await expect(pool.query('SELECT count(*) FROM queue_messages')).rejects.toMatchObject({ code: '55P03' })
      expect(Date.now() - t0).toBeLessThan(3000)
    } finally {
      await locker.query('ROLLBACK').catch(() => {})
      await locker.end()
      await pool.end()
    }
  })

  it('answers bad input with our 4xx: 1e400, __proto__, text/plain, a bad URL', async () => {
    const { app } = buildMqwriter(loadConfig({}, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    const json = { 'content-type': 'application/json' }
    try {
      const inf = await app.inject({ method: 'POST', url: '/v1/publish', headers: json, payload: `{"key":"${gpu}","payload":{"v":1e400}}` })
      expect(inf.statusCode).toBe(400)
      expect(inf.json().error.message).toMatch(/body\/payload\/v .*finite/)
      const proto = await app.inject({ method: 'POST', url: '/v1/publish', headers: json, payload: `{"key":"${gpu}","payload":{"__proto__":{"x":1}}}` })
      expect(proto.statusCode).toBe(400)
      expect(proto.json().error.message).toMatch(/__proto__/)
      expect(proto.json().error.message).not.toMatch(/not valid JSON/)
      const text = await app.inject({ method: 'POST', url: '/v1/publish', headers: { 'content-type': 'text/plain' }, payload: `{"key":"${gpu}","payload":{}}` })
      expect(text.statusCode).toBe(415)
      expect(text.json().error.code).toBe('TPIPE_ERR_UNSUPPORTED_MEDIA_TYPE')
      const badUrl = await app.inject({ method: 'GET', url: '/v1/%E0%A4%A' })
      expect(badUrl.statusCode).toBeGreaterThanOrEqual(400)
      expect(badUrl.statusCode).toBeLessThan(500)
      expect(badUrl.json().error.code).toMatch(/^TPIPE_ERR_/)
    } finally {
      await app.close()
    }
  })

  it('publishing needs TPIPE_PUBLISH_TOKEN when it is set: 401 without, 403 wrong, 201 right; health stays open', async () => {
    const token = 'publish-token-0123456789abcdef'
    const { app } = buildMqwriter(loadConfig({ 'publish-token': token }, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    const msg = { key: gpu, payload: { v: 1 } }
    try {
      const none = await app.inject({ method: 'POST', url: '/v1/publish', payload: msg })
      expect(none.statusCode).toBe(401)
      expect(none.json().error.code).toBe('TPIPE_ERR_UNAUTHENTICATED')
      const wrong = await app.inject({ method: 'POST', url: '/v1/publish', headers: { authorization: 'Bearer nope-nope-nope-nope-nope' }, payload: msg })
      expect(wrong.statusCode).toBe(403)
      expect(wrong.json().error.code).toBe('TPIPE_ERR_FORBIDDEN')
      const right = await app.inject({ method: 'POST', url: '/v1/publish', headers: { authorization: `Bearer ${token}` }, payload: msg })
      expect(right.statusCode).toBe(201)
      for (const url of ['/healthz', '/readyz', '/metrics']) expect((await app.inject({ method: 'GET', url })).statusCode).toBe(200)
    } finally {
      await app.close()
    }
  })
})
