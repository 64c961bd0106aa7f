// Ceilings: what this machine can do at all, measured in the same run and on the same database as
// tpipe, so tpipe's figures can be read as ratios. No tpipe code runs here.
import { randomUUID } from 'node:crypto'
import type { Pool, PoolClient } from '../../src/db/pool.js'
import { port, runJsonChild } from '../proc.js'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { benchModule } from '../proc.js'
import { bodyFor } from '../bodies.js'
import { BUNDLE_FIELD } from '../../src/protocol/bundle.js'
import { columnsOf, TELEMETRY_COLUMNS } from '../../src/collector/columns.js'
import { partitionOf } from '../../src/partitions/hash.js'
import { preloadQueue } from '../sqlfixtures.js'

export interface LoadResult {
  requestsPerSecond: number
  total: number
  latencyP50: number
  latencyP99: number
  non2xx: number
  errors: number
  timeouts: number
  bodyBytes: number
}

/** fastify hello-world POST, ~400-byte JSON body, 64 keep-alive connections from another process. */
export async function helloCeiling(durationS: number, connections = 64): Promise<LoadResult> {
  const p = await port()
  const server = spawn(process.execPath, [...benchModule('hello-server.ts'), String(p)], { stdio: ['ignore', 'pipe', 'inherit'] })
  await once(server.stdout!, 'data')
  try {
    return await runJsonChild<LoadResult>('load.ts', { url: `http://127.0.0.1:${p}/v1/publish`, connections, durationS, mode: 'hello' })
  } finally {
    server.kill('SIGTERM')
    await once(server, 'exit')
  }
}

export async function setupBenchTables(pool: Pool): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS bench_queue, bench_telemetry`)
  await pool.query(`CREATE UNLOGGED TABLE IF NOT EXISTS bench_dummy (x int)`) // warms the catalog cache
  await pool.query(`CREATE TABLE bench_queue (LIKE queue_messages INCLUDING ALL)`)
  await pool.query(`CREATE TABLE bench_telemetry (LIKE telemetry INCLUDING ALL)`)
}

/**
 * Raw multi-row INSERT into a queue_messages-shaped table: 1,000-row VALUES statements from 2
 * connections (mqwriter's default flush concurrency), rows/s. The same rows mqwriter would write.
 */
export async function insertCeiling(pool: Pool, durationS: number): Promise<number> {
  await pool.query('TRUNCATE bench_queue')
  const rowsPer = 1000
  const body = JSON.parse(bodyFor('single', 1)) as { key: string; payload: unknown }
  const payload = JSON.stringify(body.payload)
  const text = queueInsertText(rowsPer)
  return insertLoop(pool, durationS, text, rowsPer, () => {
    const values: unknown[] = []
    for (let i = 0; i < rowsPer; i++) values.push(randomUUID(), i % 256, body.key, payload)
    return values
  })
}

/**
 * Raw multi-row INSERT into a telemetry-shaped table (the collector's write, without the queue):
 * 1,000-row VALUES statements from 2 connections, rows/s.
 */
export async function telemetryInsertCeiling(pool: Pool, durationS: number): Promise<number> {
  await pool.query('TRUNCATE bench_telemetry')
  const rowsPer = 1000
  const cols = 13
  const p = (JSON.parse(bodyFor('single', 1)) as { payload: Record<string, unknown> }).payload
  const labels = JSON.stringify(p.labels)
  const placeholders = Array.from({ length: rowsPer }, (_, i) => `(${Array.from({ length: cols }, (_, c) => `$${i * cols + c + 1}`).join(',')})`).join(',')
  const text = `INSERT INTO bench_telemetry (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts, container, pod, namespace, labels) VALUES ${placeholders}`
  return insertLoop(pool, durationS, text, rowsPer, () => {
    const values: unknown[] = []
    const ts = new Date().toISOString()
    for (let i = 0; i < rowsPer; i++) {
      values.push(randomUUID(), p.gpu_uuid, i % 8, p.device, p.hostname, p.model_name, p.metric_name, i % 100, ts, null, null, null, labels)
    }
    return values
  })
}

/** A rowsPer-row INSERT into the queue-shaped table (4 parameters per row). */
function queueInsertText(rowsPer: number): string {
  const placeholders = Array.from({ length: rowsPer }, (_, i) => `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4})`).join(',')
  return `INSERT INTO bench_queue (msg_uuid, partition, key, payload) VALUES ${placeholders}`
}

/**
 * Runs one multi-row INSERT after another from 2 connections for warmupS + durationS; rows/s over the
 * last durationS (statements that end in the warm-up are not counted).
 */
async function insertLoop(pool: Pool, durationS: number, text: string, rowsPer: number, values: () => unknown[], warmupS = 0): Promise<number> {
  let rows = 0
  const started = Date.now() + warmupS * 1000
  const deadline = started + durationS * 1000
  await Promise.all(
    [0, 1].map(async () => {
      while (Date.now() < deadline) {
        await pool.query(text, values())
        if (Date.now() >= started) rows += rowsPer
      }
    }),
  )
  return rows / ((Date.now() - started) / 1000)
}

/**
 * Raw SQL move: SELECT a batch from a queue table, INSERT it into a telemetry table, DELETE it — one
 * transaction per 2,000 rows, the rows passing through the client like they do in tpipe, from 2
 * workers on disjoint partition halves. rows/s. Also measures the server-side single-statement move
 * (DELETE … RETURNING feeding INSERT), which never ships rows to a client, as an upper bound.
 */
export async function moveCeiling(pool: Pool, durationS: number, preload: number): Promise<{ clientMove: number; serverMove: number }> {
  const measure = async (mode: 'client' | 'server'): Promise<number> => {
    await pool.query('TRUNCATE bench_queue, bench_telemetry')
    await preloadQueue(pool, 'bench_queue', preload)
    let rows = 0
    const deadline = Date.now() + durationS * 1000
    const started = Date.now()
    await Promise.all(
      HALVES.map(async ([lo, hi]) => {
        const client = await pool.connect()
        try {
          let cursor = 0
          while (Date.now() < deadline) {
            if (mode === 'server') {
              const r = await client.query(
                `WITH moved AS (
                   DELETE FROM bench_queue WHERE id IN (
                     SELECT id FROM bench_queue WHERE partition BETWEEN $1 AND $2 ORDER BY id LIMIT 2000)
                   RETURNING msg_uuid, payload)
                 INSERT INTO bench_telemetry (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts, container, pod, namespace, labels)
                 SELECT msg_uuid, payload->>'gpu_uuid', (payload->>'gpu_id')::smallint, payload->>'device', payload->>'hostname',
                        payload->>'model_name', payload->>'metric_name', (payload->>'value')::float8, (payload->>'ts')::timestamptz,
                        payload->>'container', payload->>'pod', payload->>'namespace', payload->'labels'
                 FROM moved ON CONFLICT (ts, msg_uuid) DO NOTHING`,
                [lo, hi],
              )
              if (r.rowCount === 0) break
              rows += r.rowCount ?? 0
              continue
            }
            const n = await clientMoveBatch(client, lo, hi, cursor)
            if (n.moved === 0) break
            cursor = n.cursor
            rows += n.moved
          }
        } finally {
          client.release()
        }
      }),
    )
    return rows / ((Date.now() - started) / 1000)
  }
  return { clientMove: await measure('client'), serverMove: await measure('server') }
}

/** Two movers on disjoint partition halves, like two readers. */
const HALVES: readonly (readonly [number, number])[] = [
  [0, 127],
  [128, 255],
]

const MOVE_TEXT = `INSERT INTO bench_telemetry (${TELEMETRY_COLUMNS.map(([n]) => n).join(', ')})
  SELECT * FROM unnest(${TELEMETRY_COLUMNS.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')})
  ON CONFLICT (ts, msg_uuid) DO NOTHING`

/**
 * One client-side move transaction of up to 2,000 rows of a partition range: SELECT → INSERT → DELETE.
 * A bundle row (src/protocol/bundle.ts) is moved as its members; `limit` rows at most.
 */
async function clientMoveBatch(client: PoolClient, lo: number, hi: number, cursor: number, limit = 2000): Promise<{ moved: number; cursor: number }> {
  await client.query('BEGIN')
  const batch = await client.query<{ id: string; msg_uuid: string; payload: Record<string, unknown> }>(
    `SELECT id, msg_uuid, payload FROM bench_queue WHERE partition BETWEEN $1 AND $2 AND id > $3 ORDER BY id LIMIT $4`,
    [lo, hi, cursor, limit],
  )
  if (batch.rows.length === 0) {
    await client.query('COMMIT')
    return { moved: 0, cursor }
  }
  const recs = batch.rows.flatMap((r) => {
    const members = r.payload[BUNDLE_FIELD] as { msg_uuid: string; payload: Record<string, unknown> }[] | undefined
    return members ? members.map((m) => ({ msg_uuid: m.msg_uuid, ...m.payload })) : [{ msg_uuid: r.msg_uuid, ...r.payload }]
  })
  // The collector's own row encoding and statement form (src/collector/columns.ts), without its triggers.
  await client.query({ name: 'bench_move', text: MOVE_TEXT, values: columnsOf(recs).literals() })
  await client.query('DELETE FROM bench_queue WHERE id = ANY($1::bigint[])', [batch.rows.map((r) => r.id)])
  await client.query('COMMIT')
  return { moved: recs.length, cursor: Number(batch.rows.at(-1)!.id) }
}

/**
 * The raw DB pipeline ceiling: what batched ingest into telemetry can reach on this database at all.
 * 2 connections INSERT 1,000-sample VALUES statements of telemetry payloads into a queue-shaped table
 * (mqwriter's part) while 2 workers move it into a telemetry-shaped table with the client-side move
 * (the read side's part), at the same time, for durationS. With `bundle` > 1 a queue row carries that
 * many samples as a bundle (the shape remote_write now writes; the move expands it, 2,000 samples a
 * transaction). Returns telemetry rows/s, queue samples/s, and the queue depth in rows at the end
 * (growing = the move is the bottleneck). With `warmupS`, both run that long first, unmeasured: the
 * first seconds after other work (tpipe's services stopping, new table files) measured up to ~40% lower.
 */
export async function pipelineCeiling(pool: Pool, durationS: number, bundle = 1, warmupS = 0): Promise<{ moved: number; inserted: number; depthEnd: number }> {
  await pool.query('TRUNCATE bench_queue, bench_telemetry')
  const samplesPer = 1000
  const rowsPer = Math.ceil(samplesPer / bundle)
  const body = JSON.parse(bodyFor('single', 1)) as { key: string; payload: Record<string, unknown> }
  const text = queueInsertText(rowsPer)
  const started = Date.now() + warmupS * 1000
  const deadline = started + durationS * 1000
  let moved = 0
  const rowsPerS = insertLoop(pool, durationS, text, rowsPer, () => {
    const values: unknown[] = []
    const ts = new Date().toISOString()
    if (bundle <= 1) {
      for (let i = 0; i < rowsPer; i++) values.push(randomUUID(), i % 256, body.key, JSON.stringify({ ...body.payload, ts, value: i % 100 }))
      return values
    }
    for (let r = 0; r < rowsPer; r++) {
      const members = Array.from({ length: Math.min(bundle, samplesPer - r * bundle) }, (_, i) => ({ msg_uuid: randomUUID(), payload: { ...body.payload, ts, value: i % 100 } }))
      const id = randomUUID()
      values.push(id, partitionOf(id), id, JSON.stringify({ [BUNDLE_FIELD]: members }))
    }
    return values
  }, warmupS)
  const insert = rowsPerS.then((n) => (n * samplesPer) / rowsPer)
  const movers = HALVES.map(async ([lo, hi]) => {
    const client = await pool.connect()
    try {
      let cursor = 0
      while (Date.now() < deadline) {
        const r = await clientMoveBatch(client, lo, hi, cursor, bundle <= 1 ? 2000 : Math.max(1, Math.floor(2000 / bundle)))
        if (r.moved === 0) await new Promise((res) => setTimeout(res, 5))
        cursor = r.cursor
        if (Date.now() >= started) moved += r.moved
      }
    } finally {
      client.release()
    }
  })
  const [inserted] = await Promise.all([insert, ...movers])
  const seconds = (Date.now() - started) / 1000
  const depthEnd = Number((await pool.query('SELECT count(*) AS n FROM bench_queue')).rows[0].n)
  return { moved: moved / seconds, inserted: inserted as number, depthEnd }
}
