// Issue 17, property-based: whatever a client sends to the publish, lease, ack and assignment bodies
// or to any apigw parameter, the answer is 2xx or a 4xx in our error shape — never a 5xx — and the
// service keeps serving afterwards. Plus the assignment document parser only ever throws plain Errors.
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApigw } from '../apigw/app.js'
import { loadConfig } from '../config/index.js'
import { parseAssignmentDoc } from '../protocol/assignment.js'
import { buildMqwriter } from '../mqwriter/app.js'
import { silent, startReader, type RunningReader } from '../../test/support/mqreader.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'

const RUNS = Number(process.env.TPIPE_PROPERTY_RUNS ?? 150)

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.drop()
})

/** 2xx, or 4xx with { error: { code: TPIPE_ERR_*, message } }. */
function expectOurAnswer(res: { statusCode: number; body: string }, what: string): void {
  if (res.statusCode >= 200 && res.statusCode < 300) return
  expect(res.statusCode, `${what} → ${res.statusCode} ${res.body.slice(0, 300)}`).toBeGreaterThanOrEqual(400)
  expect(res.statusCode, `${what} → ${res.statusCode} ${res.body.slice(0, 300)}`).toBeLessThan(500)
  const body = JSON.parse(res.body) as { error?: { code?: string; message?: string } }
  expect(body.error?.code, what).toMatch(/^TPIPE_ERR_/)
  expect(typeof body.error?.message, what).toBe('string')
}

// Bodies: arbitrary JSON, JSON-looking messages with hostile values, and raw text that is not JSON.
const hostileString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('\u0000', '__proto__', 'constructor', '\uD800', '1e400', ''))
const hostileValue = fc.oneof(
  fc.jsonValue(),
  hostileString,
  fc.constantFrom(1e308, -0, Number.MAX_SAFE_INTEGER + 2, 2 ** 31, -1, 0.5, true, null, [], {}, [1], '1', '7'),
)
const message = fc.record(
  { key: hostileValue, payload: fc.oneof(fc.dictionary(hostileString, hostileValue), hostileValue), id: fc.oneof(fc.uuid(), hostileValue) },
  { requiredKeys: [] },
)
const rawText = fc.oneof(
  fc.string(),
  fc.constantFrom('{', '[', '{"key":"k","payload":{"v":1e400}}', '{"__proto__":{"a":1}}', `{"key":"k","payload":${'['.repeat(5000)}${']'.repeat(5000)}}`),
)
const bodyText = fc.oneof(
  message.map((m) => JSON.stringify(m)),
  fc.array(message, { maxLength: 5 }).map((a) => JSON.stringify(a)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  rawText,
)
const json = { 'content-type': 'application/json' }

describe('property: never a 5xx for bad input', () => {
  it('mqwriter POST /v1/publish', async () => {
    const { app } = buildMqwriter(loadConfig({}, { TPIPE_DEFAULT_METRICS: 'false' }, 'mqwriter'), { pool: db.pool, logger: silent })
    try {
      await fc.assert(
        fc.asyncProperty(bodyText, async (body) => {
          const res = await app.inject({ method: 'POST', url: '/v1/publish', headers: json, payload: body })
          expectOurAnswer(res, `publish ${body.slice(0, 200)}`)
        }),
        { numRuns: RUNS },
      )
      await stillServing(app)
      expect((await app.inject({ method: 'POST', url: '/v1/publish', payload: { key: 'GPU-1', payload: { v: 1 } } })).statusCode).toBe(201)
    } finally {
      await app.close()
    }
  })

  it('mqreader lease, ack, release and assignment bodies', async () => {
    const reader: RunningReader = await startReader(db, { readerName: 'prop' })
    const leaseBody = fc.oneof(
      fc.record({ max: hostileValue, wait_ms: hostileValue, visibility_timeout_ms: hostileValue }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
      bodyText,
    )
    const ackBody = fc.oneof(fc.record({ lease_id: hostileValue, msg_uuids: fc.oneof(fc.array(fc.oneof(fc.uuid(), hostileString)), hostileValue) }, { requiredKeys: [] }).map((b) => JSON.stringify(b)), bodyText)
    const releaseBody = fc.oneof(fc.record({ lease_ids: fc.oneof(fc.array(fc.oneof(fc.uuid(), hostileString)), hostileValue) }, { requiredKeys: [] }).map((b) => JSON.stringify(b)), bodyText)
    const assignmentBody = fc.oneof(
      fc.record({ partitions: fc.oneof(hostileString, fc.array(fc.integer()), fc.constantFrom('0-255', '0-63,128-191', '300', '5-1')), generation: hostileValue }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
      bodyText,
    )
    try {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('lease', 'ack', 'release', 'assignment'), leaseBody, ackBody, releaseBody, assignmentBody, async (which, lease, ack, release, assignment) => {
          const req =
            which === 'lease'
              ? { method: 'POST' as const, url: '/v1/lease', payload: lease }
              : which === 'ack'
                ? { method: 'POST' as const, url: '/v1/ack', payload: ack }
                : which === 'release'
                  ? { method: 'POST' as const, url: '/v1/release', payload: release }
                  : { method: 'PUT' as const, url: '/v1/assignment', payload: assignment }
          const res = await reader.app.inject({ ...req, headers: json })
          // 409 (stale generation, unknown lease) is ours too; a 503 would only mean "draining".
          expectOurAnswer(res, `${req.url} ${req.payload.slice(0, 200)}`)
        }),
        { numRuns: RUNS },
      )
      await stillServing(reader.app)
    } finally {
      await reader.close()
    }
  })

  it('apigw: every parameter of every route', async () => {
    const { app } = await buildApigw({ logLevel: 'silent', bodyLimitBytes: 1048576, metricsEnabled: false }, { pool: db.pool, logger: silent })
    const param = fc.oneof(hostileString, fc.constantFrom('2025-07-18T20:42:34Z', '2025-07-18T20:42:34+20:00', '2025-02-30T00:00:00Z', '-1h', 'now', '0', '-1', '99999999999', 'true', 'x'.repeat(300)))
    const names = fc.constantFrom('start_time', 'end_time', 'metric', 'limit', 'cursor', 'detail', 'start', 'end', 'window', 'step', 'agg', 'hostname', 'model', 'sort', 'order', 'metrics', 'group_by', 'bogus')
    try {
      await fc.assert(
        fc.asyncProperty(
          param,
          fc.array(fc.tuple(names, param), { maxLength: 4 }),
          fc.constantFrom('/api/v1/gpus', '/api/v1/gpus/{id}/telemetry', '/api/v1/telemetry'),
          async (id, query, route) => {
            const qs = query.map(([k, v]) => `${k}=${pct(v)}`).join('&')
            const url = `${route.replace('{id}', pct(id))}${qs ? `?${qs}` : ''}`
            const res = await app.inject({ method: 'GET', url })
            expectOurAnswer(res, `GET ${url.slice(0, 300)}`)
          },
        ),
        { numRuns: RUNS },
      )
      await stillServing(app)
    } finally {
      await app.close()
    }
  })

  it('the assignment document parser refuses with a plain Error naming the problem, nothing else', () => {
    const doc = fc.oneof(
      fc.record({ generation: hostileValue, replicas: hostileValue, assignments: fc.oneof(fc.dictionary(hostileString, fc.oneof(hostileString, fc.constantFrom('0-63', '0-255', '9-2'))), hostileValue) }, { requiredKeys: [] }).map((d) => JSON.stringify(d)),
      rawText,
      fc.jsonValue().map((v) => JSON.stringify(v)),
    )
    fc.assert(
      fc.property(doc, (text) => {
        try {
          const d = parseAssignmentDoc(text)
          expect(d.generation).toBeLessThanOrEqual(2 ** 31 - 1)
        } catch (err) {
          expect((err as Error).constructor).toBe(Error)
          expect((err as Error).message).toMatch(/partition|range|generation|replicas|assignment|JSON|object/i)
        }
      }),
      { numRuns: RUNS * 4 },
    )
  })
})

/** Every byte percent-encoded (encodeURIComponent throws on a lone surrogate). */
function pct(s: string): string {
  return [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')
}

async function stillServing(app: FastifyInstance): Promise<void> {
  expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
}
