// Issue 17: one message the collector cannot process (here: a payload nested so deep that
// JSON.stringify overflows the stack) is dead-lettered with the reason; the rest of its lease is
// persisted and acked. It must never block its lease (redelivered forever with every innocent message).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/index.js'
import { uuidv7 } from '../util/ids.js'
import { partitionOf } from '../partitions/hash.js'
import { payload, seed, silent, startReader } from '../../test/support/mqreader.js'
import { waitFor } from '../util/async.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { buildCollector } from './app.js'
import { serialise, toRows } from './persist.js'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.drop()
})

const count = async (table: string) => Number((await db.pool.query(`SELECT count(*) FROM ${table}`)).rows[0].count)

describe('collector isolates any per-message failure', () => {
  it('stores a payload whose extra field is too deep to serialise (only telemetry columns are read), dead-letters a NUL hostname with its payload kept, and acks the lease', async () => {
    const gpu = 'GPU-poison-0'
    await seed(db.pool, Array.from({ length: 30 }, (_, i) => ({ key: gpu, payload: payload(gpu, i) })))
    // Stored as the writer used to accept it: a valid telemetry payload with an extra field nested
    // 5,000 levels (built as text: JSON.stringify of such an object overflows the stack). Before the
    // collector read columns (2026-12-01), it serialised the whole payload and had to dead-letter this one.
    const deep = JSON.stringify(payload(gpu, 99)).replace(/}$/, `,"extra":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`)
    const deepId = uuidv7()
    await db.pool.query('INSERT INTO queue_messages (msg_uuid, partition, key, payload) VALUES ($1, $2, $3, $4::jsonb)', [deepId, partitionOf(gpu), gpu, deep])
    // A NUL in a text column, as a queue row written before mqwriter refused them at publish: PostgreSQL text
    // cannot hold it, and jsonb cannot hold the dead letter's payload either (it was dropped before).
    const nul = JSON.stringify({ ...payload(gpu, 98), hostname: 'host\u0000x' })
    const nulId = uuidv7()
    await db.pool.query('INSERT INTO queue_messages (msg_uuid, partition, key, payload) VALUES ($1, $2, $3, $4::json)', [nulId, partitionOf(gpu), gpu, nul])
    await seed(db.pool, Array.from({ length: 30 }, (_, i) => ({ key: gpu, payload: payload(gpu, 100 + i) })))

    const reader = await startReader(db, { readerName: 'poison' })
    const collector = buildCollector(
      { ...loadConfig({ readers: reader.url }, {}, 'collector'), metricsEnabled: false, collectorLeaseWaitMs: 200, collectorLeaseSize: 500 },
      { pool: db.pool, logger: silent },
    )
    await collector.start()
    try {
      await waitFor(async () => ((await count('telemetry')) === 61 && (await count('queue_messages')) === 0 ? true : undefined), { timeoutMs: 15_000, what: 'the lease persisted and acked despite the poison' })
      expect((await db.pool.query('SELECT count(*)::int AS n FROM telemetry WHERE msg_uuid = $1', [deepId])).rows[0].n).toBe(1)
      const dead = await db.pool.query<{ msg_uuid: string; error: string; payload: { unstorable_json: string } }>('SELECT msg_uuid, error, payload FROM dead_letters')
      expect(dead.rows).toHaveLength(1)
      expect(dead.rows[0]!.msg_uuid).toBe(nulId)
      expect(dead.rows[0]!.error).toMatch(/hostname holds NUL/)
      expect(JSON.parse(dead.rows[0]!.payload.unstorable_json).hostname).toBe('host\0x')
    } finally {
      await collector.stop()
      await collector.app.close()
      await reader.close()
    }
  })

  it('serialise keeps the reason when even the dead letter payload cannot be serialised', () => {
    let deep: Record<string, unknown> = { leaf: 1 }
    for (let i = 0; i < 20_000; i++) deep = { a: deep }
    // Not a telemetry payload (value is text), with a field too deep for JSON.stringify.
    const m = { msg_uuid: uuidv7(), key: 'GPU-x', partition: 1, payload: { ...payload('GPU-x', 1), value: 'x', extra: deep }, enqueued_at: new Date().toISOString(), delivery_count: 1 }
    const { rows, dead } = toRows([m])
    const out = serialise(rows, dead, new Map([[m.msg_uuid, m]]))
    expect(out.rows.length).toBe(0)
    expect(out.dead).toHaveLength(1)
    const d = JSON.parse(out.dead[0]!)
    expect(d.payload).toEqual({ unserialisable: true })
    expect(d.error).toMatch(/\/value: Expected number; payload not stored: .*call stack/)
  })
})
