// Kills real processes: `node bin/run.js serve mqreader|collector` as children (build dist first:
// npx tsc -p tsconfig.build.json). Proves the read side loses nothing and duplicates nothing when a
// collector dies mid-batch and a reader dies mid-lease, and that SIGTERM drains and exits 0.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { payload, seed } from '../../test/support/mqreader.js'
import { waitFor } from '../util/async.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { freePort } from '../util/net.js'

const BIN = join(process.cwd(), 'bin', 'run.js')
let db: TestDatabase
const children = new Set<ChildProcess>()

beforeAll(async () => {
  if (!existsSync(join(process.cwd(), 'dist', 'commands', 'serve', 'mqreader.js'))) throw new Error('build dist first: npx tsc -p tsconfig.build.json')
  db = await createTestDatabase()
})
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL')
  await db.drop()
})

interface Child {
  proc: ChildProcess
  log: () => string
  exited: Promise<number | null>
}

function serve(service: string, args: string[], port: number): Child {
  const proc = spawn(process.execPath, [BIN, 'serve', service, '--port', String(port), '--host', '127.0.0.1', ...args], {
    env: { ...process.env, DATABASE_URL: db.url, TPIPE_LOG_LEVEL: 'warn', TPIPE_DEFAULT_METRICS: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(proc)
  let out = ''
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => {
    children.delete(proc)
    resolve(code)
  }))
  return { proc, log: () => out, exited }
}

async function ready(port: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => {
    try {
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined
    } catch {
      return undefined
    }
  }, { timeoutMs, what: `service on ${port} ready` })
}

async function count(table: string): Promise<number> {
  return Number((await db.pool.query(`SELECT count(*) FROM ${table}`)).rows[0].count)
}

describe('read side under kill -9', () => {
  it('a collector killed mid-batch and a reader killed mid-lease then restarted: no loss, no duplicate; SIGTERM exits 0', { timeout: 240_000 }, async () => {
    const N = 30_000
    const gpus = Array.from({ length: 100 }, (_, i) => `GPU-crash-${i}`)
    const seeded = await seed(db.pool, Array.from({ length: N }, (_, i) => ({ key: gpus[i % gpus.length]!, payload: payload(gpus[i % gpus.length]!, i) })))

    const readerPort = await freePort()
    const readerArgs = ['--partitions', '0-255', '--reader-name', 'crash-reader', '--visibility-timeout-ms', '1500', '--drain-timeout-ms', '3000']
    let reader = serve('mqreader', readerArgs, readerPort)
    await ready(readerPort)
    const collectorArgs = ['--readers', `http://127.0.0.1:${readerPort}`, '--lease-size', '500', '--lease-wait-ms', '300', '--error-backoff-ms', '50']
    const [p1, p2] = [await freePort(), await freePort()]
    const c1 = serve('collector', collectorArgs, p1)
    const c2 = serve('collector', collectorArgs, p2)
    try {
      await Promise.all([ready(p1), ready(p2)])
      await waitFor(async () => ((await count('telemetry')) > 2000 ? true : undefined), { timeoutMs: 30_000, what: 'flow started' })
      c1.proc.kill('SIGKILL')
      expect(await c1.exited).toBe(null)
      const atCollectorKill = await count('telemetry')
      await waitFor(async () => ((await count('telemetry')) > atCollectorKill + 3000 ? true : undefined), { timeoutMs: 30_000, what: 'flow continued' })
      reader.proc.kill('SIGKILL')
      await reader.exited
      const atReaderKill = await count('telemetry')
      expect(atReaderKill).toBeLessThan(N)
      reader = serve('mqreader', readerArgs, readerPort)
      await ready(readerPort)
      await waitFor(async () => ((await count('telemetry')) === N && (await count('queue_messages')) === 0 ? true : undefined), { timeoutMs: 60_000, what: 'everything persisted' })
      const rows = await db.pool.query<{ msg_uuid: string; n: string }>('SELECT msg_uuid, count(*) OVER () AS n FROM telemetry')
      expect(new Set(rows.rows.map((r) => r.msg_uuid))).toEqual(new Set(seeded.map((s) => s.msg_uuid)))

      // SIGTERM: drain, release, exit 0 — the reader first (the collector keeps acking while it drains).
      reader.proc.kill('SIGTERM')
      expect(await reader.exited).toBe(0)
      c2.proc.kill('SIGTERM')
      expect(await c2.exited).toBe(0)
    } catch (err) {
      console.error('reader log:\n', reader.log().slice(-3000), '\ncollector 2 log:\n', c2.log().slice(-3000))
      throw err
    } finally {
      for (const c of [reader, c1, c2]) c.proc.kill('SIGKILL')
    }
  })
})
