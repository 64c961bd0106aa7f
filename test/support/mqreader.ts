// Helpers for the read side's integration tests (no vitest import: usable from scripts too).
// Must not be imported by service code.
import { pino } from 'pino'
import { loadConfig } from '../../src/config/index.js'
import type { Pool } from '../../src/db/pool.js'
import { uuidv7 } from '../../src/util/ids.js'
import { partitionOf } from '../../src/partitions/hash.js'
import { buildMqreader, type MqreaderApp, type ReaderConfig } from '../../src/mqreader/app.js'
import type { OwnerEvent } from '../../src/mqreader/owner.js'

// TEST_LOG=warn (or info, debug) shows the services' logs while a test runs.
export const silent = pino({ level: process.env.TEST_LOG ?? 'silent' })

export function readerConfig(overrides: Partial<ReaderConfig> = {}): ReaderConfig {
  return { ...loadConfig({}, {}, 'mqreader'), metricsEnabled: false, readerLockRetryMs: 50, readerRefillIntervalMs: 20, ...overrides }
}

export interface RunningReader extends MqreaderApp {
  url: string
  close(): Promise<void>
}

export async function startReader(
  db: { pool: Pool; url: string },
  overrides: Partial<ReaderConfig> = {},
  onEvent?: (e: OwnerEvent) => void,
): Promise<RunningReader> {
  const r = buildMqreader(readerConfig(overrides), { pool: db.pool, databaseUrl: db.url, logger: silent, ...(onEvent ? { onEvent } : {}) })
  const address = await r.app.listen({ host: '127.0.0.1', port: 0 })
  r.start()
  let closed = false
  return {
    ...r,
    url: address,
    async close() {
      if (closed) return
      closed = true
      await r.app.close()
    },
  }
}

/** A valid telemetry payload for GPU g (sequence number i in `value`). */
export function payload(gpu: string, i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ts: new Date(Date.UTC(2026, 10, 27, 12, 0, 0) + i).toISOString(),
    metric_name: 'DCGM_FI_DEV_GPU_UTIL',
    gpu_id: 0,
    device: 'nvidia0',
    gpu_uuid: gpu,
    model_name: 'NVIDIA H100 80GB HBM3',
    hostname: 'host-1',
    container: null,
    pod: null,
    namespace: null,
    value: i,
    labels: null,
    ...extra,
  }
}

export interface Seeded {
  msg_uuid: string
  key: string
  partition: number
}

/** Inserts messages straight into queue_messages (what mqwriter would do), in the given order. */
export async function seed(pool: Pool, messages: { key: string; payload: unknown }[]): Promise<Seeded[]> {
  const rows = messages.map((m) => ({ msg_uuid: uuidv7(), partition: partitionOf(m.key), key: m.key, payload: m.payload }))
  for (let i = 0; i < rows.length; i += 5000) {
    await pool.query(
      `INSERT INTO queue_messages (msg_uuid, partition, key, payload)
       SELECT msg_uuid, partition, key, payload
       FROM ROWS FROM (json_to_recordset($1::json) AS (msg_uuid uuid, partition smallint, key text, payload jsonb))
         WITH ORDINALITY AS m(msg_uuid, partition, key, payload, n)
       ORDER BY n`,
      [JSON.stringify(rows.slice(i, i + 5000))],
    )
  }
  return rows.map(({ msg_uuid, key, partition }) => ({ msg_uuid, key, partition }))
}

/** A key that hashes to partition p. */
export function keyFor(p: number, salt = 0): string {
  for (let i = 0; ; i++) {
    const k = `GPU-${salt}-${i}`
    if (partitionOf(k) === p) return k
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON answers
export async function postJson(url: string, body: unknown, method = 'POST'): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    /* keep text */
  }
  return { status: res.status, body: parsed }
}
