// Telemetry rows through the array-literal encoding (src/collector/columns.ts) into a real PostgreSQL and back:
// every text value, label set and number comes back exactly as it went in, however hostile its characters.
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { payload } from '../../test/support/mqreader.js'
import { uuidv7 } from '../util/ids.js'
import { columnsOf, element } from './columns.js'
import { persistBatch } from './sql.js'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.drop()
})

const storable = (s: string) => {
  try {
    element(s, 'x')
    return true
  } catch {
    return false
  }
}
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('"', '\\', ',', '{', '}', ' ', '\t', '\n', 'N', 'U', 'L', "'", '\u00e9', '\u{1F600}'), maxLength: 20 }),
  fc.constantFrom('NULL', 'null', '', ' ', '""', '\\', '{}', '{"a":1}', '1e400', '__proto__'),
).filter(storable)

describe('telemetry rows as column arrays', () => {
  it('store every value exactly as it was, however hostile (600 random rows, one statement)', async () => {
    const rows = fc.sample(
      fc.record({
        gpu_uuid: hostile.filter((s) => s.length > 0),
        device: hostile,
        hostname: hostile,
        model_name: hostile,
        metric_name: hostile.filter((s) => s.length > 0),
        container: fc.option(hostile),
        pod: fc.option(hostile),
        namespace: fc.option(hostile),
        labels: fc.option(fc.dictionary(hostile, hostile, { maxKeys: 4 })),
        value: fc.double({ noNaN: true, noDefaultInfinity: true }),
        gpu_id: fc.integer({ min: 0, max: 32767 }),
      }),
      { numRuns: 600, seed: 20261201 },
    ).map((r, i) => ({ ...payload('x', i), ...r, msg_uuid: uuidv7() }))
    const r = await db.pool.query(persistBatch(columnsOf(rows), []))
    expect(r.rows[0]).toMatchObject({ inserted: 600, dead: 0 })
    const back = await db.pool.query(
      `SELECT msg_uuid, gpu_uuid, device, hostname, model_name, metric_name, container, pod, namespace, labels, value, gpu_id, ts
       FROM telemetry WHERE msg_uuid = ANY($1::uuid[])`,
      [rows.map((x) => x.msg_uuid)],
    )
    const byId = new Map(back.rows.map((b) => [b.msg_uuid, b]))
    for (const x of rows) {
      const b = byId.get(x.msg_uuid)!
      for (const k of ['gpu_uuid', 'device', 'hostname', 'model_name', 'metric_name', 'container', 'pod', 'namespace', 'labels', 'gpu_id'] as const) expect(b[k], k).toEqual(x[k])
      expect(b.value).toBe(x.value === 0 ? 0 : x.value) // -0 is stored as 0
      expect(b.ts.toISOString()).toBe((x as { ts?: unknown }).ts)
    }
  })
})
