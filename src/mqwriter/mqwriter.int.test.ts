import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { join } from 'node:path'
import { pino } from 'pino'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/index.js'
import { createPool } from '../db/pool.js'
import { partitionOf } from '../partitions/hash.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { startProxy, viaProxy } from '../../test/support/proxy.js'
import { buildMqwriter } from './app.js'

const silent = pino({ level: 'silent' })
const gpu = 'GPU-5fd4f087-86f3-7a43-b711-4771313afc50'
const payload = { metric_name: 'DCGM_FI_DEV_GPU_UTIL', value: 42 }

function writerConfig(overrides: Record<string, string> = {}) {
  return loadConfig(overrides, {}, 'mqwriter')
}

async function count(db: TestDatabase, where = 'true', values: unknown[] = []): Promise<number> {
  const r = await db.pool.query(`SELECT count(*)::int AS n FROM queue_messages WHERE ${where}`, values)
  return r.rows[0].n
}

describe('mqwriter', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db.drop()
  })

  it('publishes one message: 201 after commit, msg_uuid is a UUIDv7, partition from the key', async () => {
    const { app } = buildMqwriter(writerConfig(), { pool: db.pool, logger: silent })
    try {
      const res = await app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload } })
      expect(res.statusCode).toBe(201)
      const body = res.json()
      expect(body.msg_uuids).toHaveLength(1)
      expect(body.msg_uuids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(body.partitions).toEqual([partitionOf(gpu)])
      // durable the moment it was answered: no waiting, no flush call
      const row = await db.pool.query('SELECT key, partition, payload FROM queue_messages WHERE msg_uuid = $1', [body.msg_uuids[0]])
      expect(row.rows).toEqual([{ key: gpu, partition: partitionOf(gpu), payload }])
    } finally {
      await app.close()
    }
  })

  it('stores a payload’s text as it was serialised at publish: key order and spacing kept (json, not reprinted through jsonb)', async () => {
    const { app } = buildMqwriter(writerConfig(), { pool: db.pool, logger: silent })
    try {
      // jsonb would reorder these keys (shorter first) and print ": " / ", " between them.
      const p = { zzzz_long_key: 1, a: [1, 2], mid: { y: 'x', b: null } }
      const res = await app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload: p } })
      expect(res.statusCode).toBe(201)
      const row = await db.pool.query('SELECT payload::text AS t FROM queue_messages WHERE msg_uuid = $1', [res.json().msg_uuids[0]])
      expect(row.rows[0].t).toBe(JSON.stringify(p))
    } finally {
      await app.close()
    }
  })

  it('publishes an array in one request, in order', async () => {
    const { app } = buildMqwriter(writerConfig(), { pool: db.pool, logger: silent })
    try {
      const msgs = Array.from({ length: 50 }, (_, i) => ({ key: `GPU-${i % 7}`, payload: { i } }))
      const res = await app.inject({ method: 'POST', url: '/v1/publish', payload: msgs })
      expect(res.statusCode).toBe(201)
      const ids: string[] = res.json().msg_uuids
      expect(ids).toHaveLength(50)
      const rows = await db.pool.query('SELECT msg_uuid, payload FROM queue_messages WHERE msg_uuid = ANY($1::uuid[]) ORDER BY id', [ids])
      expect(rows.rows.map((r) => r.payload.i)).toEqual(msgs.map((m) => m.payload.i))
    } finally {
      await app.close()
    }
  })

  it('stores a batch larger than one statement takes (several statements, one transaction), duplicates once, in order', async () => {
    const { app } = buildMqwriter(writerConfig({ 'batch-size': '10000', 'max-publish-batch': '10000', 'buffer-capacity': '20000' }), { pool: db.pool, logger: silent })
    try {
      const dup = randomUUID()
      // 4,096 rows go in the first statement, the rest (a 1,024-row size class, padded) in the second.
      const msgs = Array.from({ length: 5000 }, (_, i) => ({ key: `GPU-${i % 13}`, payload: { i }, ...(i === 10 || i === 4500 ? { id: dup } : {}) }))
      const res = await app.inject({ method: 'POST', url: '/v1/publish', payload: msgs })
      expect(res.statusCode).toBe(201)
      const ids: string[] = res.json().msg_uuids
      const rows = await db.pool.query('SELECT payload FROM queue_messages WHERE msg_uuid = ANY($1::uuid[]) ORDER BY id', [ids])
      expect(rows.rows.map((r) => r.payload.i)).toEqual(msgs.map((m) => m.payload.i).filter((i) => i !== 4500))
    } finally {
      await app.close()
    }
  })

  it('stores a duplicate id once and answers both publishes with success', async () => {
    const { app } = buildMqwriter(writerConfig(), { pool: db.pool, logger: silent })
    try {
      const id = randomUUID()
      const a = await app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload, id } })
      const b = await app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload: { other: true }, id } })
      // and the same id twice inside one array
      const c = await app.inject({ method: 'POST', url: '/v1/publish', payload: [{ key: gpu, payload, id }, { key: gpu, payload, id }] })
      expect([a.statusCode, b.statusCode, c.statusCode]).toEqual([201, 201, 201])
      expect(a.json().msg_uuids).toEqual([id])
      expect(await count(db, 'msg_uuid = $1', [id])).toBe(1)
    } finally {
      await app.close()
    }
  })

  it.each([
    ['not JSON', '{"key": ', 'TPIPE_ERR_BAD_JSON', /JSON/i],
    ['missing payload', { key: gpu }, 'TPIPE_ERR_VALIDATION', /body\/payload must be an object/],
    ['key not a string', { key: 7, payload }, 'TPIPE_ERR_VALIDATION', /body\/key must be a string/],
    ['bad id', { key: gpu, payload, id: 'nope' }, 'TPIPE_ERR_VALIDATION', /body\/id must be a UUID/],
    ['unknown field', { key: gpu, payload, extra: 1 }, 'TPIPE_ERR_VALIDATION', /body\/extra is not allowed/],
    ['bad element of an array', [{ key: gpu, payload }, { key: gpu, payload: [1] }], 'TPIPE_ERR_VALIDATION', /body\/1\/payload must be an object/],
    ['empty array', [], 'TPIPE_ERR_VALIDATION', /empty array/],
  ])('400 for %s, naming the field, storing nothing', async (_name, body, code, message) => {
    const { app } = buildMqwriter(writerConfig(), { pool: db.pool, logger: silent })
    try {
      const before = await count(db)
      const res = await app.inject({
        method: 'POST',
        url: '/v1/publish',
        headers: { 'content-type': 'application/json' },
        payload: typeof body === 'string' ? body : JSON.stringify(body),
      })
      expect(res.statusCode).toBe(400)
      expect(res.json().error.code).toBe(code)
      expect(res.json().error.message).toMatch(message)
      expect(await count(db)).toBe(before)
    } finally {
      await app.close()
    }
  })

  it('400 for an array over the configured maximum', async () => {
    const { app } = buildMqwriter(writerConfig({ 'max-publish-batch': '3' }), { pool: db.pool, logger: silent })
    try {
      const res = await app.inject({ method: 'POST', url: '/v1/publish', payload: Array.from({ length: 4 }, () => ({ key: gpu, payload })) })
      expect(res.statusCode).toBe(400)
      expect(res.json().error.message).toMatch(/at most 3/)
    } finally {
      await app.close()
    }
  })

  it('413 for a body over the limit', async () => {
    const { app } = buildMqwriter(writerConfig({ 'body-limit-bytes': '2048' }), { pool: db.pool, logger: silent })
    try {
      const res = await app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload: { blob: 'x'.repeat(4096) } } })
      expect(res.statusCode).toBe(413)
      expect(res.json().error.code).toBe('TPIPE_ERR_BODY_TOO_LARGE')
    } finally {
      await app.close()
    }
  })

  it('a message PostgreSQL cannot store gets 400 while the rest of its batch is stored', async () => {
    // jsonb rejects \u0000; the batch INSERT fails as a whole, and the buffer isolates the bad publish.
    const { app } = buildMqwriter(writerConfig({ 'flush-interval-ms': '50' }), { pool: db.pool, logger: silent })
    try {
      const good = randomUUID()
      const bad = randomUUID()
      const [a, b] = await Promise.all([
        app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload, id: good } }),
        app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload: { s: 'a\u0000b' }, id: bad } }),
      ])
      expect(a.statusCode).toBe(201)
      expect(b.statusCode).toBe(400)
      expect(b.json().error.message).toMatch(/cannot be stored/)
      expect(await count(db, 'msg_uuid = $1', [good])).toBe(1)
      expect(await count(db, 'msg_uuid = $1', [bad])).toBe(0)
    } finally {
      await app.close()
    }
  })

  it('429 with Retry-After when the buffer is full; the accepted ones are stored', async () => {
    // A long batch age keeps the first publishes buffered, so the buffer stays full while we publish more.
    const { app, registry } = buildMqwriter(writerConfig({ 'buffer-capacity': '10', 'flush-interval-ms': '300', 'batch-size': '1000' }), {
      pool: db.pool,
      logger: silent,
    })
    try {
      const first = app.inject({ method: 'POST', url: '/v1/publish', payload: Array.from({ length: 10 }, () => ({ key: gpu, payload })) })
      // let the first request reach the buffer before the second one arrives
      await expect.poll(async () => (await registry.getSingleMetric('mqwriter_buffer_utilization')!.get()).values[0]!.value).toBe(1)
      const over = await app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload } })
      expect(over.statusCode).toBe(429)
      expect(over.headers['retry-after']).toBe('1')
      expect(over.json().error.code).toBe('TPIPE_ERR_BUFFER_FULL')
      const ok = await first
      expect(ok.statusCode).toBe(201)
      expect(await count(db, 'msg_uuid = ANY($1::uuid[])', [ok.json().msg_uuids])).toBe(10)
      const rejected = await registry.getSingleMetric('mqwriter_publish_rejected_total')!.get()
      expect(rejected.values.find((v) => v.labels.reason === 'buffer_full')?.value).toBe(1)
    } finally {
      await app.close()
    }
  })

  it('503 while the database is unreachable, /readyz false, and both recover when it is back', async () => {
    const target = new URL(db.url)
    const proxy = await startProxy(target.hostname, Number(target.port))
    const pool = createPool(viaProxy(db.url, proxy.port), { max: 4, connectionTimeoutMs: 1000 })
    const { app } = buildMqwriter(writerConfig(), { pool, logger: silent })
    try {
      expect((await app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload } })).statusCode).toBe(201)
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200)

      await proxy.cut()
      const down = await app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload } })
      expect(down.statusCode).toBe(503)
      expect(down.json().error.code).toBe('TPIPE_ERR_DB_UNAVAILABLE')
      expect(down.headers['retry-after']).toBeDefined()
      const ready = await app.inject({ method: 'GET', url: '/readyz' })
      expect(ready.statusCode).toBe(503)
      expect(ready.json().checks.database).toBe(false)

      await proxy.restore()
      await expect.poll(async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode, { timeout: 15_000, interval: 200 }).toBe(200)
      const back = await app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload } })
      expect(back.statusCode).toBe(201)
    } finally {
      await app.close()
      await pool.end()
      await proxy.close()
    }
  })

  it('stores every publish from many concurrent connections', async () => {
    const { app } = buildMqwriter(writerConfig(), { pool: db.pool, logger: silent })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.addresses()[0] as { port: number }
    const dispatcher = new Agent({ connections: 32, pipelining: 1 })
    try {
      const ids: string[] = []
      const workers = Array.from({ length: 32 }, async (_, w) => {
        for (let i = 0; i < 40; i++) {
          const id = randomUUID()
          const res = await request(`http://127.0.0.1:${address.port}/v1/publish`, {
            method: 'POST',
            dispatcher,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ key: `GPU-${w}`, payload: { w, i }, id }),
          })
          expect(res.statusCode).toBe(201)
          await res.body.dump()
          ids.push(id)
        }
      })
      await Promise.all(workers)
      expect(ids).toHaveLength(32 * 40)
      expect(await count(db, 'msg_uuid = ANY($1::uuid[])', [ids])).toBe(ids.length)
    } finally {
      await dispatcher.close()
      await app.close()
    }
  })

  it('metrics expose the published counter, flush histograms and the utilization gauge', async () => {
    const { app } = buildMqwriter(writerConfig(), { pool: db.pool, logger: silent })
    try {
      await app.inject({ method: 'POST', url: '/v1/publish', payload: [{ key: gpu, payload }, { key: gpu, payload }] })
      const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
      expect(text).toMatch(/^mqwriter_messages_published_total 2$/m)
      expect(text).toMatch(/^mqwriter_buffer_utilization 0$/m)
      expect(text).toMatch(/^mqwriter_flush_duration_seconds_count 1$/m)
      expect(text).toMatch(/^mqwriter_flush_batch_size_sum 2$/m)
      expect(text).toMatch(/^process_cpu_seconds_total /m)
    } finally {
      await app.close()
    }
  })

  it('close() flushes what is buffered before resolving', async () => {
    const { app } = buildMqwriter(writerConfig({ 'flush-interval-ms': '10000', 'batch-size': '1000' }), { pool: db.pool, logger: silent })
    const id = randomUUID()
    const pending = app.inject({ method: 'POST', url: '/v1/publish', payload: { key: gpu, payload, id } })
    await new Promise((r) => setTimeout(r, 50))
    await app.close()
    expect((await pending).statusCode).toBe(201)
    expect(await count(db, 'msg_uuid = $1', [id])).toBe(1)
  })
})

describe('mqwriter process killed with SIGKILL', () => {
  let db: TestDatabase
  let child: ChildProcess | undefined
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    child?.kill('SIGKILL')
    await db.drop()
  })

  it('keeps every publish that was answered 201 before the kill', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000)
    child = spawn(process.execPath, [join(process.cwd(), 'bin', 'run.js'), 'serve', 'mqwriter', '--port', String(port), '--host', '127.0.0.1'], {
      env: { ...process.env, DATABASE_URL: db.url, TPIPE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    const base = `http://127.0.0.1:${port}`
    await expect
      .poll(async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status, { timeout: 30_000, interval: 100 })
      .toBe(200)

    const dispatcher = new Agent({ connections: 16 })
    const acknowledged: string[] = []
    let failures = 0
    let stop = false
    const senders = Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const id = randomUUID()
        try {
          const res = await request(`${base}/v1/publish`, {
            method: 'POST',
            dispatcher,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ key: `GPU-${w}`, payload: { w, i }, id }),
          })
          await res.body.dump()
          if (res.statusCode === 201) acknowledged.push(id)
        } catch {
          failures++ // connection reset by the kill: not acknowledged, so no promise was made
          await new Promise((r) => setTimeout(r, 10))
        }
      }
    })
    // kill once a good stream of answers has been seen
    await expect.poll(() => acknowledged.length, { timeout: 30_000, interval: 20 }).toBeGreaterThan(2000)
    child.kill('SIGKILL')
    await once(child, 'exit')
    await new Promise((r) => setTimeout(r, 300))
    stop = true
    await Promise.all(senders)
    await dispatcher.close()

    expect(failures).toBeGreaterThan(0) // publishes really were cut off mid-flight
    const stored = await count(db, 'msg_uuid = ANY($1::uuid[])', [acknowledged])
    console.log(`kill -9: ${acknowledged.length} acknowledged before the kill, ${stored} of them stored, ${failures} requests cut off`)
    expect(stored).toBe(acknowledged.length)
  })
})

describe('mqwriter without a database', () => {
  it('says at start that the database is unreachable (not only when a publish arrives), at a bounded rate, and is not ready', async () => {
    const lines: { level: number; msg: string; err?: string }[] = []
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) })
    // A port nobody listens on: connection refused at once.
    const probe = await import('node:net').then((net) => net.createServer())
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const port = (probe.address() as { port: number }).port
    await new Promise((r) => probe.close(r))
    const pool = createPool(`postgres://nobody:x@127.0.0.1:${port}/none`, { max: 2, onError: () => {} })
    const { app } = buildMqwriter(writerConfig(), { pool, logger })
    try {
      await app.listen({ host: '127.0.0.1', port: 0 })
      await new Promise((r) => setTimeout(r, 3500))
      const unreachable = lines.filter((l) => /database unreachable/.test(l.msg))
      expect(unreachable).toHaveLength(1) // said once at start, not once per probe
      expect(unreachable[0]!.level).toBe(50)
      expect(unreachable[0]!.err).toMatch(/ECONNREFUSED/)
      const ready = await app.inject({ method: 'GET', url: '/readyz' })
      expect(ready.statusCode).toBe(503)
    } finally {
      await app.close()
      await pool.end()
    }
  })
})
