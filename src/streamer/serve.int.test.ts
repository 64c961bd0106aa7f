// `tpipe serve streamer` as a real process (built CLI) against an in-process mqwriter on a test database:
// --loops exits 0 when done; the ack log holds exactly the acknowledged messages, also after SIGTERM.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { pino } from 'pino'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadConfig } from '../config/index.js'
import { buildMqwriter, type MqwriterApp } from '../mqwriter/app.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'

const SAMPLE = join(process.cwd(), 'charts', 'streamer', 'files', 'telemetry.csv')
let db: TestDatabase
let mq: MqwriterApp
let mqUrl: string
let dir: string

const acked = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [])
const stored = async () => new Set((await db.pool.query<{ msg_uuid: string }>('SELECT msg_uuid FROM queue_messages')).rows.map((r) => r.msg_uuid))

function streamer(args: string[]) {
  return execa('node', ['bin/run.js', 'serve', 'streamer', '--mqwriter', mqUrl, '--port', '0', '--log-level', 'warn', '--default-metrics', 'false', ...args], {
    reject: false,
    env: { NODE_ENV: 'production' },
    timeout: 60_000,
  })
}

beforeAll(async () => {
  db = await createTestDatabase()
  mq = buildMqwriter(loadConfig({}, { TPIPE_DEFAULT_METRICS: 'false' }, 'mqwriter'), { pool: db.pool, logger: pino({ level: 'silent' }) })
  mqUrl = await mq.app.listen({ host: '127.0.0.1', port: 0 })
  dir = mkdtempSync(join(tmpdir(), 'tpipe-serve-streamer-'))
})

afterAll(async () => {
  await mq?.app.close()
  rmSync(dir, { recursive: true, force: true })
  await db?.drop()
})

it('streams the shipped sample once with --loops 1, exits 0, and logs every acknowledged msg_uuid', async () => {
  await db.pool.query('TRUNCATE queue_messages')
  const csv = join(dir, 'sample.csv')
  copyFileSync(SAMPLE, csv)
  const ackLog = join(dir, 'once.acks')
  const r = await streamer(['--csv', csv, '--loops', '1', '--ack-log', ackLog])
  expect(r.stderr).toBe('')
  expect(r.exitCode).toBe(0)
  const lines = acked(ackLog)
  expect(lines).toHaveLength(1920)
  expect(new Set(lines)).toEqual(await stored())
  // Write-back is on by default: the copy now carries this run's timestamps.
  expect(readFileSync(csv, 'utf8')).not.toContain('2025-07-18T20:42:34Z')
})

it('on SIGTERM stops streaming, and the ack log holds exactly the messages that were stored', async () => {
  await db.pool.query('TRUNCATE queue_messages')
  const ackLog = join(dir, 'term.acks')
  const child = streamer(['--csv', SAMPLE, '--loops', '0', '--rate', '400', '--write-back', 'false', '--ack-log', ackLog])
  await expect.poll(() => acked(ackLog).length, { timeout: 30_000, interval: 100 }).toBeGreaterThan(200)
  child.kill('SIGTERM')
  const r = await child
  expect(r.exitCode).toBe(0)
  const lines = acked(ackLog)
  expect(new Set(lines).size).toBe(lines.length)
  expect(new Set(lines)).toEqual(await stored())
})

it('refuses to start without --csv, naming the setting', async () => {
  const r = await streamer([])
  expect(r.exitCode).toBe(2)
  expect(r.stderr).toMatch(/streamerCsv.*--csv.*TPIPE_CSV/s)
})
