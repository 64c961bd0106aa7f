// The exactly-once chaos test: the whole pipeline through the same Supervisor as `tpipe dev`, with a
// bounded input, while one collector, one mqreader and one mqwriter are SIGKILLed (and restarted by
// the supervisor), readers are scaled 2 → 4 → 1 with live partition moves, and PostgreSQL itself is
// restarted. At the end every msg_uuid that mqwriter acknowledged (the streamers' own ack logs) is in
// telemetry exactly once, nothing else is there, and the queue is empty.
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureEmbedded, restartEmbedded, stopEmbedded } from '../db/embedded.js'
import { migrate } from '../db/migrate.js'
import { createPool, type Pool } from '../db/pool.js'
import { withDatabase } from '../../test/support/db.js'
import { DEFAULT_CSV } from './dev.js'
import { Supervisor } from './supervisor.js'
import { waitFor } from '../util/async.js'

// Its own embedded PostgreSQL (not the shared test server), because this test restarts it.
const CHAOS_HOME = join(process.cwd(), '.tpipe-test', 'chaos')
const LOOPS = 8
const RATE = 400 // per streamer: ~25 s of streaming, so every fault lands while messages flow

function csvRows(path: string): number {
  return readFileSync(path, 'utf8').trimEnd().split(/\r?\n/).length - 1
}

describe('exactly once through kill -9, scaling and a database restart', () => {
  let sup: Supervisor | undefined
  let pool: Pool | undefined
  let dbName = ''
  let adminUrl = ''
  const ackDir = join(CHAOS_HOME, 'acks')
  const events: string[] = []
  const log = (m: string) => events.push(`${new Date().toISOString()} ${m}`)

  beforeAll(async () => {
    adminUrl = (await ensureEmbedded(CHAOS_HOME)).url
    dbName = `chaos_${Date.now()}`
    const admin = new pg.Client({ connectionString: adminUrl })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${dbName}`)
    await admin.end()
    await migrate(withDatabase(adminUrl, dbName), 'up')
    rmSync(ackDir, { recursive: true, force: true })
    mkdirSync(ackDir, { recursive: true })
  })

  afterAll(async () => {
    await sup?.stop().catch(() => {})
    await pool?.end().catch(() => {})
    if (process.env.TPIPE_KEEP_CHAOS !== '1' && dbName) {
      const admin = new pg.Client({ connectionString: (await ensureEmbedded(CHAOS_HOME)).url })
      await admin.connect()
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
      await admin.end()
    }
    // Its own server, restarted by the test: `npm test` must leave no PostgreSQL running (CI checks).
    if (process.env.TPIPE_KEEP_CHAOS !== '1') await stopEmbedded(CHAOS_HOME)
  })

  it('every acknowledged message lands in telemetry exactly once', async () => {
    const url = withDatabase(adminUrl, dbName)
    pool = createPool(url, { max: 2, onError: () => {} })
    const expected = csvRows(DEFAULT_CSV) * LOOPS
    sup = new Supervisor({
      streamers: 2,
      writers: 1,
      readers: 2,
      collectors: 2,
      apigws: 0,
      databaseUrl: url,
      home: CHAOS_HOME,
      csv: DEFAULT_CSV,
      rate: RATE,
      loops: LOOPS,
      apigwPort: 0,
      ackLogDir: ackDir,
      pool,
      log,
      env: {
        TPIPE_LOG_LEVEL: 'warn',
        // Short enough that a killed collector's lease comes back within the test's time.
        TPIPE_READER_VISIBILITY_TIMEOUT_MS: '3000',
        TPIPE_READER_DRAIN_TIMEOUT_MS: '4000',
        TPIPE_COLLECTOR_LEASE_WAIT_MS: '500',
        TPIPE_SHUTDOWN_TIMEOUT_MS: '10000',
      },
    })
    await sup.start()
    const persisted = async () => Number((await pool!.query('SELECT count(*) AS n FROM telemetry').catch(() => ({ rows: [{ n: -1 }] }))).rows[0].n)
    const killed: string[] = []
    const kill = (name: string) => {
      sup!.signal(name, 'SIGKILL')
      killed.push(name)
      log(`SIGKILL ${name}`)
    }

    await waitFor(async () => (await persisted()) > 1000, { timeoutMs: 60_000, what: 'first rows to be persisted' })
    kill('collector-0')
    await new Promise((r) => setTimeout(r, 1500))
    kill('mqreader-0')
    await new Promise((r) => setTimeout(r, 1500))
    kill('mqwriter-0')
    await new Promise((r) => setTimeout(r, 1500))
    log(`restarting PostgreSQL (telemetry rows so far: ${await persisted()})`)
    await restartEmbedded(CHAOS_HOME)
    log('PostgreSQL back')
    await new Promise((r) => setTimeout(r, 1500))
    log(`scale mqreader 4 (telemetry rows so far: ${await persisted()})`)
    log(`scaled: ${JSON.stringify((await sup.scale('mqreader', 4)).moves)}`)
    log(`scale mqreader 1 (telemetry rows so far: ${await persisted()}; streamers done: ${sup.list('streamer').filter((p) => p.state === 'done').length})`)
    log(`scaled: ${JSON.stringify((await sup.scale('mqreader', 1)).moves)}`)

    // The streamers finish their loops; then the queue drains.
    await waitFor(() => sup!.list('streamer').every((p) => p.state === 'done'), { timeoutMs: 240_000, what: 'streamers to finish their loops', intervalMs: 500 })
    await waitFor(
      async () => {
        const q = await pool!.query('SELECT count(*)::int AS n FROM queue_messages').catch(() => undefined)
        return q?.rows[0].n === 0
      },
      {
        timeoutMs: 180_000,
        what: 'the queue to drain',
        intervalMs: 500,
      },
    )
    const status = await sup.status()

    const acknowledged = new Set<string>()
    let ackLines = 0
    for (const f of readdirSync(ackDir)) {
      for (const line of readFileSync(join(ackDir, f), 'utf8').split('\n')) {
        if (!line) continue
        ackLines++
        acknowledged.add(line.trim())
      }
    }
    const rows = await pool.query<{ msg_uuid: string }>('SELECT msg_uuid FROM telemetry')
    const inTelemetry = new Map<string, number>()
    for (const r of rows.rows) inTelemetry.set(r.msg_uuid, (inTelemetry.get(r.msg_uuid) ?? 0) + 1)
    const missing = [...acknowledged].filter((id) => !inTelemetry.has(id))
    const unacknowledged = [...inTelemetry.keys()].filter((id) => !acknowledged.has(id))
    const duplicates = [...inTelemetry.values()].filter((n) => n > 1).length
    const dead = Number((await pool.query('SELECT count(*) AS n FROM dead_letters')).rows[0].n)
    const restarts = status.processes.reduce((a, p) => a + p.restarts, 0)

    console.log(
      [
        `chaos: emitted rows ${expected}, acknowledged ${acknowledged.size} (${ackLines} ack lines), persisted ${rows.rowCount}, ` +
          `missing ${missing.length}, never-acknowledged ${unacknowledged.length}, duplicates ${duplicates}, dead letters ${dead}`,
        `chaos: killed ${killed.join(', ')}; supervisor restarts ${restarts}; readers at the end ${status.readers.map((r) => `${r.name}:${r.partitions}`).join(' ')}`,
        ...events.map((e) => `  ${e.split('\n')[0]}`),
      ].join('\n'),
    )
    expect(missing).toEqual([])
    expect(unacknowledged).toEqual([])
    expect(duplicates).toBe(0)
    expect(ackLines).toBe(acknowledged.size) // one 201 per emission: retries reuse the id and log once
    expect(acknowledged.size).toBe(expected) // nothing dropped by the streamers either
    expect(dead).toBe(0)
    expect(restarts).toBeGreaterThanOrEqual(3)
    expect(status.readers).toHaveLength(1)
    expect(status.readers[0]!.partitions).toBe('0-255')
  })
})
