// The fault test (issue 17), beside the chaos test: a real pipeline (mqwriter, mqreader, collector, apigw
// as `tpipe serve` children of the Supervisor, with service tokens) on its OWN embedded PostgreSQL,
// fed good messages by publishers that retry with the same id, while it gets poison (payloads nested
// beyond the limit, ~1 MB messages, payloads the collector cannot store, a body over the limit), a
// slow-body client and a slow-headers client, a held lock on the queue and then on telemetry, and
// finally the whole database frozen for 20 s (SIGSTOP of that server's postmaster and backends). At the
// end: every good message acknowledged is in telemetry exactly once, every poison message is dead-
// lettered or was refused with 4xx, no 5xx for good input but bounded 503s, no answer slower than the
// configured bounds, /readyz false while frozen and true after, and no service crashed.
import { readdirSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureEmbedded, postmasterOf, stopEmbedded } from '../db/embedded.js'
import { migrate } from '../db/migrate.js'
import { createPool, type Pool } from '../db/pool.js'
import { withDatabase } from '../../test/support/db.js'
import { sleep, waitFor } from '../util/async.js'
import { DEFAULT_CSV } from './dev.js'
import { Supervisor } from './supervisor.js'
import { serviceTokens } from './tokens.js'

// Its own PostgreSQL: this test freezes the server, which must never be the shared test database.
const FAULT_HOME = join(process.cwd(), '.tpipe-test', 'fault')
const PUBLISH_BOUND_MS = 2000
const REQUEST_TIMEOUT_MS = 3000
const FREEZE_MS = 20_000
const LOCK_MS = 4000
const GPU = (i: number) => `GPU-fa17${String(i).padStart(4, '0')}-86f3-7a43-b711-4771313afc50`

function good(i: number): Record<string, unknown> {
  return {
    ts: new Date(Date.UTC(2026, 10, 30, 11, 0, 0) + i * 10).toISOString(),
    metric_name: 'DCGM_FI_DEV_GPU_UTIL',
    gpu_id: i % 8,
    device: `nvidia${i % 8}`,
    gpu_uuid: GPU(i % 16),
    model_name: 'NVIDIA H100 80GB HBM3',
    hostname: 'fault-host',
    container: null,
    pod: null,
    namespace: null,
    value: i,
    labels: null,
  }
}

/** Postmaster and every process it forked (backends, checkpointer, walwriter…), from /proc. */
function serverProcesses(postmaster: number): number[] {
  const out = [postmaster]
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === postmaster) out.push(Number(d))
    } catch {
      /* gone meanwhile */
    }
  }
  return out
}

describe('fault injection: poison, slow clients, held locks and a frozen database', () => {
  let sup: Supervisor | undefined
  let pool: Pool | undefined
  let adminUrl = ''
  let dbName = ''
  let startedServer = false
  let frozen: number[] = []
  const events: string[] = []
  let t0 = Date.now()
  const log = (m: string) => events.push(`+${((Date.now() - t0) / 1000).toFixed(1)}s ${m}`)
  const thaw = () => {
    for (const pid of frozen) {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {
        /* gone */
      }
    }
    frozen = []
  }

  beforeAll(async () => {
    const server = await ensureEmbedded(FAULT_HOME)
    adminUrl = server.url
    startedServer = server.startedNow === true
    dbName = `fault_${Date.now()}`
    const admin = new pg.Client({ connectionString: adminUrl })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${dbName}`)
    await admin.end()
    await migrate(withDatabase(adminUrl, dbName), 'up')
  })

  afterAll(async () => {
    thaw()
    await sup?.stop(10_000).catch(() => {})
    await pool?.end().catch(() => {})
    if (dbName) {
      const admin = new pg.Client({ connectionString: adminUrl })
      await admin.connect()
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
      await admin.end()
    }
    // `npm test` leaves no PostgreSQL running (CI checks): stop the server this test started.
    if (startedServer && process.env.TPIPE_TEST_KEEP_DB !== '1') await stopEmbedded(FAULT_HOME)
  })

  it('good messages are stored exactly once, poison is isolated, nothing stalls beyond its bound, nothing crashes', async () => {
    t0 = Date.now()
    const url = withDatabase(adminUrl, dbName)
    pool = createPool(url, { max: 2, statementTimeoutMs: 5000, onError: () => {} })
    const tokens = serviceTokens({}, true)
    sup = new Supervisor({
      streamers: 0,
      writers: 1,
      readers: 1,
      collectors: 1,
      apigws: 1,
      databaseUrl: url,
      home: FAULT_HOME,
      csv: DEFAULT_CSV,
      rate: 0,
      loops: 1,
      apigwPort: 0,
      pool,
      tokens,
      log,
      env: {
        TPIPE_LOG_LEVEL: 'warn',
        TPIPE_WRITER_PUBLISH_TIMEOUT_MS: String(PUBLISH_BOUND_MS),
        TPIPE_DB_STATEMENT_TIMEOUT_MS: '3000',
        TPIPE_DB_LOCK_TIMEOUT_MS: '1000',
        TPIPE_HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        TPIPE_HTTP_HEADERS_TIMEOUT_MS: '2000',
        TPIPE_READER_VISIBILITY_TIMEOUT_MS: '5000',
        TPIPE_COLLECTOR_LEASE_WAIT_MS: '500',
        TPIPE_SHUTDOWN_TIMEOUT_MS: '10000',
      },
    })
    await sup.start()
    const writer = sup.list('mqwriter')[0]!.url
    const writerPort = sup.list('mqwriter')[0]!.spec.port
    const auth = { authorization: `Bearer ${tokens.TPIPE_PUBLISH_TOKEN}` }

    // --- good traffic: 4 publishers, each message re-sent with its id until 201 ---
    const acked = new Set<string>()
    const statuses = new Map<number, number>()
    let slowest = 0
    let stop = false
    let seq = 0
    const publishOnce = async (body: string): Promise<number> => {
      const started = Date.now()
      try {
        const r = await fetch(`${writer}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body, signal: AbortSignal.timeout(15_000) })
        await r.body?.cancel()
        return r.status
      } catch {
        return 0 // no answer at all (counted: must not happen)
      } finally {
        slowest = Math.max(slowest, Date.now() - started)
      }
    }
    const publisher = async () => {
      while (!stop) {
        const i = seq++
        const id = randomUUID()
        const body = JSON.stringify({ key: GPU(i % 16), id, payload: good(i) })
        for (;;) {
          const status = await publishOnce(body)
          statuses.set(status, (statuses.get(status) ?? 0) + 1)
          if (status === 201) {
            acked.add(id)
            break
          }
          await sleep(200)
        }
        await sleep(20)
      }
    }
    const publishers = Array.from({ length: 4 }, publisher)

    // --- /readyz of the services, sampled every 250 ms ---
    const readiness: { at: number; service: string; ready: boolean }[] = []
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        await Promise.all(
          [sup!.list('mqwriter')[0]!, sup!.list('collector')[0]!, sup!.list('apigw')[0]!].map(async (p) => {
            const r = await fetch(`${p.url}/readyz`, { signal: AbortSignal.timeout(1500) }).catch(() => undefined)
            await r?.body?.cancel()
            readiness.push({ at: Date.now(), service: p.spec.service, ready: r?.status === 200 })
          }),
        )
        await sleep(250)
      }
    })()
    await waitFor(() => acked.size > 50, { timeoutMs: 30_000, what: 'good messages to flow' })
    log(`flowing: ${acked.size} acknowledged`)

    // --- poison ---
    const refused: number[] = []
    const poisonIds: string[] = []
    const poison = async (payloadText: string, key = 'GPU-poison') => {
      const id = randomUUID()
      const status = await publishOnce(`{"key":"${key}","id":"${id}","payload":${payloadText}}`)
      if (status >= 400 && status < 500) refused.push(status)
      else if (status === 201) poisonIds.push(id)
      else throw new Error(`poison publish answered ${status}`)
    }
    const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`
    await poison(deep(5000)) // beyond the nesting limit: 400
    await poison(`{"ts":"x","labels":${deep(60)}}`) // within the limit, not telemetry: dead letter
    for (let k = 0; k < 3; k++) await poison(JSON.stringify({ ...good(k), gpu_uuid: 'GPU-poison', value: 'x'.repeat(1_000_000 - 400) })) // ~1 MB, value not a number
    await poison(JSON.stringify({ ...good(1), gpu_uuid: 'GPU-poison', ts: '2026-11-30T10:00:00+20:00' })) // an offset PostgreSQL refuses
    await poison(JSON.stringify({ blob: 'y'.repeat(1_100_000) })) // over the body limit: 413
    log(`poison sent: ${poisonIds.length} accepted, refused ${refused.join(',')}`)

    // --- slow clients: a body one byte a second, headers one line a second; others keep being served ---
    const slowClient = (what: 'body' | 'headers') =>
      new Promise<{ closedAfterMs: number; answer: string }>((resolve) => {
        const started = Date.now()
        const sock = connect(writerPort, '127.0.0.1')
        let answer = ''
        const timer = setInterval(() => sock.write(what === 'body' ? '{' : 'x-slow: 1\r\n'), 1000)
        sock.on('data', (d) => (answer += d.toString()))
        sock.on('error', () => {})
        sock.on('close', () => {
          clearInterval(timer)
          resolve({ closedAfterMs: Date.now() - started, answer: answer.split('\r\n')[0] ?? '' })
        })
        sock.write(`POST /v1/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tokens.TPIPE_PUBLISH_TOKEN}\r\nContent-Type: application/json\r\n`)
        if (what === 'body') sock.write('Content-Length: 100000\r\n\r\n')
        setTimeout(() => sock.destroy(), 30_000) // the server should have cut it long before
      })
    const slow = Promise.all([slowClient('body'), slowClient('headers')])

    // --- a held lock on the queue, then on telemetry ---
    const holdLock = async (table: string) => {
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      await c.query('BEGIN')
      await c.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`)
      log(`lock held on ${table}`)
      await sleep(LOCK_MS)
      await c.query('COMMIT')
      await c.end()
      log(`lock on ${table} released`)
    }
    await holdLock('queue_messages')
    await holdLock('telemetry')
    const [slowBody, slowHeaders] = await slow
    log(`slow body cut after ${slowBody.closedAfterMs} ms (${slowBody.answer}); slow headers after ${slowHeaders.closedAfterMs} ms (${slowHeaders.answer})`)
    await sleep(2000)

    // --- the database frozen for 20 s ---
    const pm = postmasterOf((await ensureEmbedded(FAULT_HOME)).dataDir)
    expect(pm, 'the fault test’s own postmaster').toBeDefined()
    frozen = serverProcesses(pm!.pid)
    const ackedBeforeFreeze = acked.size
    for (const pid of frozen) process.kill(pid, 'SIGSTOP')
    const frozeAt = Date.now()
    log(`SIGSTOP postmaster ${pm!.pid} and ${frozen.length - 1} children`)
    await sleep(FREEZE_MS)
    const thawAt = Date.now()
    thaw()
    log(`SIGCONT; acknowledged during the freeze: ${acked.size - ackedBeforeFreeze}`)

    // --- recovery: publish a little longer, then stop and let the queue drain ---
    await sleep(3000)
    stop = true
    await Promise.all(publishers)
    log(`publishers stopped: ${acked.size} acknowledged; answers ${JSON.stringify(Object.fromEntries(statuses))}; slowest ${slowest} ms`)
    await waitFor(async () => (await pool!.query('SELECT count(*)::int AS n FROM queue_messages').catch(() => undefined))?.rows[0].n === 0, {
      timeoutMs: 60_000,
      what: 'the queue to drain',
      intervalMs: 500,
    })
    await sleep(1000)
    sampling = false
    await sampler

    const rows = await pool.query<{ msg_uuid: string; n: number }>('SELECT msg_uuid, count(*)::int AS n FROM telemetry GROUP BY msg_uuid')
    const stored = new Map(rows.rows.map((r) => [r.msg_uuid, r.n]))
    const dead = new Set((await pool.query<{ msg_uuid: string }>('SELECT msg_uuid FROM dead_letters')).rows.map((r) => r.msg_uuid))
    const missing = [...acked].filter((id) => !stored.has(id))
    const duplicates = [...stored.values()].filter((n) => n > 1).length
    const goodDead = [...acked].filter((id) => dead.has(id)).length
    const poisonNotDead = poisonIds.filter((id) => !dead.has(id))
    const poisonStored = poisonIds.filter((id) => stored.has(id))
    const readyDuringFreeze = (service: string) => readiness.filter((s) => s.service === service && s.at > frozeAt + 3000 && s.at < thawAt)
    const lastReady = (service: string) => readiness.filter((s) => s.service === service).at(-1)?.ready
    const status = await sup.status()
    const apigw = sup.list('apigw')[0]!.url
    const gpus = await fetch(`${apigw}/api/v1/gpus`, { headers: { authorization: `Bearer ${tokens.TPIPE_API_TOKEN}` } })

    console.log(
      [
        `fault: acknowledged ${acked.size}, stored ${stored.size}, missing ${missing.length}, duplicates ${duplicates}, good dead-lettered ${goodDead}; ` +
          `poison accepted ${poisonIds.length} (dead-lettered ${poisonIds.length - poisonNotDead.length}), refused ${refused.join(',')}; ` +
          `answers ${JSON.stringify(Object.fromEntries(statuses))}; slowest answer ${slowest} ms`,
        ...events.map((e) => `  ${e}`),
      ].join('\n'),
    )

    expect(missing).toEqual([])
    expect(duplicates).toBe(0)
    expect(stored.size).toBe(acked.size) // nothing but acknowledged good messages in telemetry
    expect(goodDead).toBe(0)
    expect(poisonNotDead).toEqual([])
    expect(poisonStored).toEqual([])
    expect(refused.sort()).toEqual([400, 413])
    expect(poisonIds).toHaveLength(5)
    // good input: 201, or a bounded 503 while the database was locked or frozen — never another 5xx, never silence
    expect([...statuses.keys()].filter((s) => s !== 201 && s !== 503)).toEqual([])
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0)
    expect(slowest).toBeLessThan(PUBLISH_BOUND_MS + 1500)
    // slow clients are cut off by the server's timeouts, not by the client giving up after 30 s
    expect(slowBody.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 3000)
    expect(slowHeaders.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 3000)
    // readiness: false while frozen, true after
    for (const service of ['mqwriter', 'collector', 'apigw']) {
      const during = readyDuringFreeze(service)
      expect(during.length, service).toBeGreaterThan(5)
      expect(during.every((s) => !s.ready), `${service} /readyz while frozen`).toBe(true)
      expect(lastReady(service), `${service} /readyz after`).toBe(true)
    }
    expect(gpus.status).toBe(200)
    expect(((await gpus.json()) as { gpus: { id: string }[] }).gpus.map((g) => g.id)).toContain(GPU(0))
    // no service crashed or was restarted
    expect(status.processes.map((p) => `${p.name}:${p.state}:${p.restarts}`)).toEqual(status.processes.map((p) => `${p.name}:up:0`))
  })
})
