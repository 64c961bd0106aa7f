// Issue 17 on apigw: input PostgreSQL refuses as data (a NUL, an offset beyond ±15:59, also inside a
// cursor) is a 400 naming the parameter, Fastify's own errors come in our shape, and the optional
// read token guards /api/* only.
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { buildApigw } from './app.js'
import { encodeCursor } from './cursor.js'

const silent = pino({ level: 'silent' })
const CONFIG = { logLevel: 'silent' as const, bodyLimitBytes: 1048576, metricsEnabled: false }
let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.drop()
})

describe('apigw hardening (issue 17)', () => {
  it('answers 400 naming the parameter, never 500, for input PostgreSQL refuses', async () => {
    const { app } = await buildApigw(CONFIG, { pool: db.pool, logger: silent })
    try {
      const cases: [string, RegExp][] = [
        ['/api/v1/gpus/%00/telemetry', /^id: .*NUL/],
        ['/api/v1/gpus/GPU-1/telemetry?metric=%00', /^metric: .*NUL/],
        ['/api/v1/gpus/GPU-1/telemetry?start_time=2025-07-18T20:42:34%2B20:00', /^start_time/],
        ['/api/v1/gpus/GPU-1/telemetry?end_time=2025-07-18T20:42:34-16:00', /^end_time/],
        [`/api/v1/gpus/GPU-1/telemetry?cursor=${encodeCursor('2025-07-18T20:42:34+20:00', '0193a4b2-0000-7000-8000-000000000001')}`, /^cursor/],
      ]
      for (const [url, message] of cases) {
        const res = await app.inject({ method: 'GET', url })
        expect(res.statusCode, url).toBe(400)
        expect(res.json().error.code, url).toBe('TPIPE_ERR_BAD_PARAMETER')
        expect(res.json().error.message, url).toMatch(message)
      }
    } finally {
      await app.close()
    }
  })

  it("puts Fastify's own errors in our shape: a bad URL escape (400) and an over-long path parameter (414)", async () => {
    const { app } = await buildApigw(CONFIG, { pool: db.pool, logger: silent })
    try {
      const bad = await app.inject({ method: 'GET', url: '/api/v1/gpus/%E0%A4%A/telemetry' })
      expect(bad.statusCode).toBe(400)
      expect(bad.json().error.code).toBe('TPIPE_ERR_BAD_PARAMETER')
      const long = await app.inject({ method: 'GET', url: `/api/v1/gpus/${'G'.repeat(500)}/telemetry` })
      expect(long.statusCode).toBe(414)
      expect(long.json().error.code).toBe('TPIPE_ERR_URI_TOO_LONG')
    } finally {
      await app.close()
    }
  })

  it('with TPIPE_API_TOKEN set, /api/* needs it (401/403) while health, metrics and the OpenAPI document stay open', async () => {
    const token = 'api-token-0123456789abcdef'
    const { app } = await buildApigw({ ...CONFIG, apiToken: token }, { pool: db.pool, logger: silent })
    try {
      expect((await app.inject({ method: 'GET', url: '/api/v1/gpus' })).statusCode).toBe(401)
      expect((await app.inject({ method: 'GET', url: '/api/v1/gpus', headers: { authorization: 'Bearer wrong-wrong-wrong-wrong' } })).statusCode).toBe(403)
      expect((await app.inject({ method: 'GET', url: '/api/v1/gpus', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200)
      for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json']) expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200)
    } finally {
      await app.close()
    }
  })
})
