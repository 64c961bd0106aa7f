// Bundles (many telemetry messages in one queue row, src/protocol/bundle.ts): the collector expands them
// into their members and persists each as its own telemetry row or dead letter, against real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRegistry, metricValue } from '../metrics/index.js'
import { BUNDLE_FIELD, BUNDLE_MAX_MESSAGES, bundleId, bundleMessages, bundleRows, bundleSize, expandBundles, type BundleMember } from '../protocol/bundle.js'
import type { LeasedMessage } from '../protocol/lease.js'
import { partitionOf } from '../partitions/hash.js'
import { payload, silent } from '../../test/support/mqreader.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { uuidv7 } from '../util/ids.js'
import { collectorMetrics } from './metrics.js'
import { LeaseMessages, persister } from './persist.js'

const iso = (ms: number) => new Date(ms).toISOString()
const NOW = Date.now()

function member(gpu: string, i: number): BundleMember {
  const p = payload(gpu, i)
  p.ts = iso(NOW - 60_000 + i * 1000)
  return { msg_uuid: uuidv7(), key: gpu, payloadJson: JSON.stringify(p) }
}

/** A queue row as the reader would lease it (payload parsed, as the collector receives it). */
function leased(row: { msg_uuid: string; key: string; partition: number; payloadJson: string | Buffer }): LeasedMessage {
  return { msg_uuid: row.msg_uuid, key: row.key, partition: row.partition, payload: JSON.parse(String(row.payloadJson)) as unknown, delivery_count: 1, enqueued_at: iso(NOW) }
}

describe('bundleRows / expandBundles', () => {
  const ms = Array.from({ length: 7 }, (_, i) => member(`GPU-b${i % 3}`, i))

  it('chunks in order by count, keeps a lone message a plain row, and derives the bundle id from its members', () => {
    const rows = bundleRows(ms, 3)
    expect(rows.map((r) => r.members)).toEqual([3, 3, 1])
    expect(rows[0]!.msg_uuid).toBe(bundleId(ms.slice(0, 3).map((m) => m.msg_uuid)))
    expect(rows[0]!.key).toBe(rows[0]!.msg_uuid)
    expect(rows[0]!.partition).toBe(partitionOf(rows[0]!.msg_uuid))
    // the last one alone: a plain message with its own id, key and partition
    expect(rows[2]).toEqual({ msg_uuid: ms[6]!.msg_uuid, key: 'GPU-b0', partition: partitionOf('GPU-b0'), payloadJson: ms[6]!.payloadJson, members: 1 })
    // same members, same ids; other members, another id
    expect(bundleRows(ms, 3).map((r) => r.msg_uuid)).toEqual(rows.map((r) => r.msg_uuid))
    expect(bundleId(ms.slice(1, 4).map((m) => m.msg_uuid))).not.toBe(rows[0]!.msg_uuid)
    expect(rows[0]!.msg_uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  it("holds a bundle's payload as the UTF-8 bytes of its JSON text (multi-byte characters included)", () => {
    const wide = [member('GPU-ü0', 1), { ...member('GPU-b1', 2), payloadJson: JSON.stringify({ ...payload('GPU-b1', 2), labels: { pod: 'trainer-日本-🚀' } }) }]
    const [row] = bundleRows(wide)
    expect(Buffer.isBuffer(row!.payloadJson)).toBe(true)
    const text = `{"${BUNDLE_FIELD}":[${wide.map((m) => `{"msg_uuid":"${m.msg_uuid}","payload":${m.payloadJson}}`).join(',')}]}`
    expect((row!.payloadJson as Buffer).equals(Buffer.from(text))).toBe(true)
    expect(JSON.parse(String(row!.payloadJson))).toEqual({ [BUNDLE_FIELD]: wide.map((m) => ({ msg_uuid: m.msg_uuid, payload: JSON.parse(m.payloadJson) as unknown })) })
  })

  it('chunks by payload bytes too; one message larger than the bound still goes alone', () => {
    const size = ms[0]!.payloadJson.length
    expect(bundleRows(ms, 100, size * 2 + 1).map((r) => r.members)).toEqual([2, 2, 2, 1])
    expect(bundleRows(ms.slice(0, 2), 100, 10).map((r) => r.members)).toEqual([1, 1])
    expect(bundleRows([])).toEqual([])
  })

  it('expands a bundle into its members: own ids, the bundle row partition, the member GPU as key', () => {
    const [row] = bundleRows(ms.slice(0, 3))
    const plain = leased({ msg_uuid: uuidv7(), key: 'GPU-x', partition: 9, payloadJson: JSON.stringify(payload('GPU-x', 0)) })
    const { messages, malformed } = expandBundles([plain, leased(row!)])
    expect(malformed.size).toBe(0)
    expect(messages[0]).toBe(plain)
    expect(messages.slice(1).map((m) => [m.msg_uuid, m.key, m.partition])).toEqual(ms.slice(0, 3).map((m) => [m.msg_uuid, m.key, row!.partition]))
    expect(messages[1]!.payload).toEqual(JSON.parse(ms[0]!.payloadJson))
  })

  it('bundles publish messages the same way (the scraper): ids from the members, a lone one as it is, sizes counted', () => {
    const msgs = ms.map((m) => ({ key: m.key, id: m.msg_uuid.toUpperCase(), payload: JSON.parse(m.payloadJson) as Record<string, unknown> }))
    const out = bundleMessages(msgs, 3)
    expect(out.map((m) => bundleSize(m.payload))).toEqual([3, 3, 1])
    expect(out[0]!.id).toBe(bundleRows(ms, 3)[0]!.msg_uuid) // the same id as mqwriter's own bundling of the same messages
    expect(out[0]!.key).toBe(out[0]!.id)
    expect(out[2]).toBe(msgs[6])
    const expanded = expandBundles([leased({ msg_uuid: out[0]!.id, key: out[0]!.key, partition: 5, payloadJson: JSON.stringify(out[0]!.payload) })])
    expect(expanded.messages.map((m) => m.msg_uuid)).toEqual(ms.slice(0, 3).map((m) => m.msg_uuid))
    expect(bundleSize({ [BUNDLE_FIELD]: 'x' })).toBe(1)
    expect(bundleSize({ metric_name: 'x' })).toBe(1)
  })

  it('names what is wrong with a malformed bundle and keeps it one message', () => {
    const cases: [unknown, RegExp][] = [
      [{ [BUNDLE_FIELD]: 'x' }, /must be an array/],
      [{ [BUNDLE_FIELD]: [] }, /is empty/],
      [{ [BUNDLE_FIELD]: [{ msg_uuid: 'nope', payload: {} }] }, /tpipe_bundle\/0\/msg_uuid must be a uuid/],
      [{ [BUNDLE_FIELD]: [{ msg_uuid: uuidv7(), payload: {} }, { msg_uuid: uuidv7(), payload: [] }] }, /tpipe_bundle\/1\/payload must be an object/],
      [{ [BUNDLE_FIELD]: [null] }, /tpipe_bundle\/0 must be an object/],
      [{ [BUNDLE_FIELD]: Array.from({ length: BUNDLE_MAX_MESSAGES + 1 }, () => ({ msg_uuid: uuidv7(), payload: {} })) }, /at most 256/],
    ]
    for (const [p, why] of cases) {
      const m: LeasedMessage = { msg_uuid: uuidv7(), key: 'k', partition: 0, payload: p, delivery_count: 1, enqueued_at: iso(NOW) }
      const { messages, malformed } = expandBundles([m])
      expect(messages).toEqual([m])
      expect(malformed.get(m)).toMatch(why)
    }
  })
})

describe('persisting bundles (real PostgreSQL)', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db.drop()
  })

  const stored = async (ids: string[]) =>
    Number((await db.pool.query('SELECT count(*) AS n FROM telemetry WHERE msg_uuid = ANY($1::uuid[])', [ids])).rows[0].n)

  it('stores each sample once, whichever bundles carried it and however often they come', async () => {
    const registry = createRegistry()
    const persist = persister(db.pool, collectorMetrics(registry), silent)
    const ms = Array.from({ length: 6 }, (_, i) => member('GPU-once', i))
    // a sender retried its request chunked differently: samples 2..3 travel in two bundles
    const first = bundleRows(ms.slice(0, 4)).map(leased)
    const second = bundleRows(ms.slice(2, 6)).map(leased)
    expect(first[0]!.msg_uuid).not.toBe(second[0]!.msg_uuid)
    await persist(first)
    await persist([...second, ...first]) // and a redelivery of the first, in the same lease
    expect(await stored(ms.map((m) => m.msg_uuid))).toBe(6)
    const rows = await db.pool.query('SELECT msg_uuid, metric_name, value, ts FROM telemetry WHERE msg_uuid = ANY($1::uuid[]) ORDER BY ts', [ms.map((m) => m.msg_uuid)])
    expect(rows.rows.map((r) => [r.msg_uuid, r.metric_name, r.value, (r.ts as Date).toISOString()])).toEqual(
      ms.map((m) => {
        const p = JSON.parse(m.payloadJson) as { metric_name: string; value: number; ts: string }
        return [m.msg_uuid, p.metric_name, p.value, p.ts]
      }),
    )
    expect(await metricValue(registry, 'collector_rows_persisted_total')).toBe(6)
    expect(await metricValue(registry, 'collector_dead_letters_total')).toBe(0)
  })

  it('dead-letters a member that cannot become a row alone, under its own id; the rest of the bundle is stored', async () => {
    const registry = createRegistry()
    const persist = persister(db.pool, collectorMetrics(registry), silent)
    const ms = Array.from({ length: 4 }, (_, i) => member('GPU-bad', i))
    const bad = JSON.parse(ms[1]!.payloadJson) as Record<string, unknown>
    delete bad.metric_name
    ms[1]!.payloadJson = JSON.stringify(bad)
    // a time JavaScript takes and PostgreSQL refuses (February 30th): fails the batch statement, found by the isolating path
    ms[2]!.payloadJson = JSON.stringify({ ...(JSON.parse(ms[2]!.payloadJson) as object), ts: '2026-02-30T00:00:00Z' })
    await persist(bundleRows(ms).map(leased))
    expect(await stored([ms[0]!.msg_uuid, ms[3]!.msg_uuid])).toBe(2)
    expect(await stored([ms[1]!.msg_uuid, ms[2]!.msg_uuid])).toBe(0)
    const dead = await db.pool.query('SELECT msg_uuid, key, error FROM dead_letters WHERE msg_uuid = ANY($1::uuid[]) ORDER BY error', [ms.map((m) => m.msg_uuid)])
    expect(dead.rows.map((r) => r.msg_uuid).sort()).toEqual([ms[1]!.msg_uuid, ms[2]!.msg_uuid].sort())
    expect(dead.rows.every((r) => r.key === 'GPU-bad')).toBe(true)
    expect(dead.rows.map((r) => r.error).join('\n')).toMatch(/metric_name/)
  })

  it('takes a lease handed over as LeaseMessages (as the worker does): parsed again from its text only to isolate a failing batch', async () => {
    const registry = createRegistry()
    const persist = persister(db.pool, collectorMetrics(registry), silent)
    const handOver = (ms: BundleMember[]) => {
      const text = JSON.stringify(bundleRows(ms).map(leased))
      const parses = { n: 0 }
      const messages = new LeaseMessages(JSON.parse(text) as LeasedMessage[], () => {
        parses.n++
        return JSON.parse(text) as LeasedMessage[]
      })
      return { messages, parses }
    }
    const clean = Array.from({ length: 4 }, (_, i) => member('GPU-hand', i))
    const a = handOver(clean)
    await persist(a.messages)
    expect(a.parses.n).toBe(0)
    expect(await stored(clean.map((m) => m.msg_uuid))).toBe(4)
    // February 30th fails the batch statement: the isolating path reads the lease again, from its text
    const failing = Array.from({ length: 4 }, (_, i) => member('GPU-hand2', i))
    failing[2]!.payloadJson = JSON.stringify({ ...(JSON.parse(failing[2]!.payloadJson) as object), ts: '2026-02-30T00:00:00Z' })
    const b = handOver(failing)
    await persist(b.messages)
    expect(b.parses.n).toBe(1)
    expect(await stored(failing.map((m) => m.msg_uuid))).toBe(3)
    const dead = await db.pool.query('SELECT msg_uuid FROM dead_letters WHERE msg_uuid = $1', [failing[2]!.msg_uuid])
    expect(dead.rowCount).toBe(1)
    expect(await metricValue(registry, 'collector_rows_persisted_total')).toBe(7)
  })

  it('dead-letters a malformed bundle whole, with the reason, and goes on with the rest of the lease', async () => {
    const registry = createRegistry()
    const persist = persister(db.pool, collectorMetrics(registry), silent)
    const good = bundleRows(Array.from({ length: 3 }, (_, i) => member('GPU-ok', i))).map(leased)
    const broken: LeasedMessage = { msg_uuid: uuidv7(), key: 'k', partition: 3, payload: { [BUNDLE_FIELD]: [{ msg_uuid: 'x', payload: {} }] }, delivery_count: 2, enqueued_at: iso(NOW) }
    await persist([broken, ...good])
    const dead = await db.pool.query('SELECT error, partition, delivery_count FROM dead_letters WHERE msg_uuid = $1', [broken.msg_uuid])
    expect(dead.rows).toEqual([{ error: 'malformed bundle: tpipe_bundle/0/msg_uuid must be a uuid', partition: 3, delivery_count: 2 }])
    const members = (good[0]!.payload as Record<string, { msg_uuid: string }[]>)[BUNDLE_FIELD]!.map((m) => m.msg_uuid)
    expect(await stored(members)).toBe(3)
  })
})

describe('rolling upgrades', () => {
  it('leases without max_bytes from a reader that refuses the field (one older than it)', async () => {
    const { createServer } = await import('node:http')
    const bodies: Record<string, unknown>[] = []
    const old = createServer((req, res) => {
      let text = ''
      req.on('data', (c: Buffer) => (text += c.toString()))
      req.on('end', () => {
        const body = JSON.parse(text || '{}') as Record<string, unknown>
        bodies.push(body)
        res.setHeader('content-type', 'application/json')
        if ('max_bytes' in body) {
          res.statusCode = 400
          res.end(JSON.stringify({ error: { code: 'TPIPE_ERR_VALIDATION', message: 'body must NOT have additional properties' } }))
        } else res.end(JSON.stringify({ lease_id: null, expires_at: null, messages: [] }))
      })
    })
    await new Promise<void>((r) => old.listen(0, '127.0.0.1', r))
    const port = (old.address() as { port: number }).port
    const { loadConfig } = await import('../config/index.js')
    const { buildCollector } = await import('./app.js')
    const db = await createTestDatabase()
    const c = buildCollector({ ...loadConfig({ readers: `http://127.0.0.1:${port}` }, {}, 'collector'), metricsEnabled: false, collectorLeaseWaitMs: 50 }, { pool: db.pool, logger: silent })
    try {
      await c.start()
      await expect.poll(() => bodies.filter((b) => !('max_bytes' in b)).length, { timeout: 10_000 }).toBeGreaterThan(2)
      // asked with it only by the lease loops already on their way (3 in flight) when the first refusal came, then never again
      const withBytes = bodies.flatMap((b, i) => ('max_bytes' in b ? [i] : []))
      expect(withBytes.length).toBeGreaterThanOrEqual(1)
      expect(withBytes.every((i) => i < 3)).toBe(true)
      expect(bodies[0]).toMatchObject({ max: 2000, max_bytes: 1048576 })
    } finally {
      await c.stop()
      await new Promise<void>((r) => old.close(() => r()))
      await db.drop()
    }
  })
})
