// apigw serving the dashboard at / and compressing API JSON, with a real database behind the API.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../testing/db.js'
import { csvScrape, persist, scrapeAt } from '../testing/dcgm-fixture.js'
import { buildApigw } from './app.js'
import { loadDashboard } from './dashboard.js'

const CONFIG = { logLevel: 'silent' as const, bodyLimitBytes: 1048576, metricsEnabled: false }
let db: TestDatabase

function builtDashboard(): string {
  const root = mkdtempSync(join(tmpdir(), 'tpipe-web-'))
  mkdirSync(join(root, 'assets'))
  const files = { 'index.html': '<!doctype html><script type="module" src="assets/app-ABCDEFGH.js"></script>', 'assets/app-ABCDEFGH.js': 'console.log("tpipe")'.repeat(50) }
  for (const [f, body] of Object.entries(files)) {
    writeFileSync(join(root, f), body)
    writeFileSync(join(root, `${f}.gz`), gzipSync(body))
  }
  return root
}

beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'tpipe_web_serve' })
  await persist(db.pool, scrapeAt(csvScrape(), new Date(), 0))
})
afterAll(async () => {
  await db?.drop()
})

describe('dashboard files', () => {
  it('answers / with index.html (no-cache, CSP) and hashed assets as immutable, gzip when accepted, 304 on a matching ETag', async () => {
    const { app } = await buildApigw(CONFIG, { pool: db.pool, logger: pino({ level: 'silent' }), dashboard: loadDashboard(builtDashboard()) })
    try {
      const index = await app.inject({ method: 'GET', url: '/' })
      expect(index.statusCode).toBe(200)
      expect(index.headers['cache-control']).toBe('no-cache')
      expect(index.headers['content-type']).toMatch(/^text\/html/)
      expect(index.headers['content-security-policy']).toMatch(/default-src 'self'/)
      expect(index.body).toContain('assets/app-ABCDEFGH.js')
      const js = await app.inject({ method: 'GET', url: '/assets/app-ABCDEFGH.js', headers: { 'accept-encoding': 'gzip, br' } })
      expect(js.statusCode).toBe(200)
      expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable')
      expect(js.headers['content-encoding']).toBe('gzip')
      expect(gunzipSync(js.rawPayload).toString()).toBe('console.log("tpipe")'.repeat(50))
      const plain = await app.inject({ method: 'GET', url: '/assets/app-ABCDEFGH.js' })
      expect(plain.headers['content-encoding']).toBeUndefined()
      expect(plain.body).toBe('console.log("tpipe")'.repeat(50))
      const again = await app.inject({ method: 'GET', url: '/assets/app-ABCDEFGH.js', headers: { 'if-none-match': String(js.headers.etag) } })
      expect(again.statusCode).toBe(304)
      const missing = await app.inject({ method: 'GET', url: '/assets/app-OTHER.js' })
      expect(missing.statusCode).toBe(404)
      expect(missing.json().error.code).toBe('TPIPE_ERR_NOT_FOUND')
    } finally {
      await app.close()
    }
  })

  it('says how to build the dashboard when dist/web is missing, instead of a 404', async () => {
    const { app } = await buildApigw(CONFIG, { pool: db.pool, logger: pino({ level: 'silent' }), dashboard: loadDashboard(join(tmpdir(), 'no-such-tpipe-web')) })
    try {
      const r = await app.inject({ method: 'GET', url: '/' })
      expect(r.statusCode).toBe(503)
      expect(r.body).toMatch(/npm run build/)
    } finally {
      await app.close()
    }
  })

  it('gzips API JSON for clients that accept it, and only for them', async () => {
    const { app } = await buildApigw(CONFIG, { pool: db.pool, logger: pino({ level: 'silent' }), dashboard: loadDashboard(builtDashboard()) })
    try {
      const plain = await app.inject({ method: 'GET', url: '/api/v1/gpus' })
      const gz = await app.inject({ method: 'GET', url: '/api/v1/gpus', headers: { 'accept-encoding': 'gzip' } })
      expect(plain.headers['content-encoding']).toBeUndefined()
      expect(gz.headers['content-encoding']).toBe('gzip')
      expect(gz.headers.vary).toMatch(/accept-encoding/)
      expect(gz.rawPayload.length).toBeLessThan(plain.rawPayload.length / 3)
      expect(JSON.parse(gunzipSync(gz.rawPayload).toString())).toEqual(plain.json())
    } finally {
      await app.close()
    }
  })
})
