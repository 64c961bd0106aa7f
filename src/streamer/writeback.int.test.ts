// Issue 17: write-back never destroys data — rows appended during a pass survive, a read-only file is
// left alone, and the temp file cannot be redirected by a symlink another user plants beside the CSV.
import { appendFileSync, chmodSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSampleCsv } from '../../scripts/generate-sample-csv.js'
import { loadConfig } from '../config/index.js'
import { buildMqwriter, type MqwriterApp } from '../mqwriter/app.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { buildStreamer } from './app.js'
import { nodeFs, type WriteBackFs } from './writeback.js'

const silent = pino({ level: 'silent' })
let db: TestDatabase
let mq: MqwriterApp
let mqUrl: string
let dir: string

beforeAll(async () => {
  db = await createTestDatabase()
  mq = buildMqwriter(loadConfig({}, { TPIPE_DEFAULT_METRICS: 'false' }, 'mqwriter'), { pool: db.pool, logger: silent })
  mqUrl = await mq.app.listen({ host: '127.0.0.1', port: 0 })
  dir = mkdtempSync(join(tmpdir(), 'tpipe-writeback-'))
})
afterAll(async () => {
  await mq?.app.close()
  rmSync(dir, { recursive: true, force: true })
  await db?.drop()
})

async function stream(csv: string, flags: Record<string, string> = {}, during?: () => void, fs?: WriteBackFs) {
  const s = buildStreamer(loadConfig({ csv, mqwriter: mqUrl, loops: '1', 'default-metrics': 'false', 'write-back': 'true', ...flags }, {}, 'streamer'), {
    logger: silent,
    ...(fs ? { fs } : {}),
  })
  try {
    const running = s.run()
    if (during) setTimeout(during, 150)
    return await running
  } finally {
    await s.app.close()
  }
}

describe('write-back safety', () => {
  it('keeps rows appended to the CSV during the pass (the pass is not written back)', async () => {
    const file = join(dir, 'append.csv')
    const text = generateSampleCsv({ hosts: 1, scrapes: 1 })
    writeFileSync(file, text)
    const lastLine = text.trimEnd().split(/\r?\n/).pop()!
    const appended = Array.from({ length: 5 }, (_, i) => lastLine.replace(/GPU-[0-9a-f-]+/, `GPU-appended-${i}`))
    const r = await stream(file, { rate: '400' }, () => appendFileSync(file, appended.join('\n') + '\n'))
    expect(r.sent).toBeGreaterThanOrEqual(80) // the appended rows may be read by the pass too
    const after = readFileSync(file, 'utf8')
    for (const line of appended) expect(after).toContain(line)
  })

  it('leaves a read-only (0444) file alone, even as root', async () => {
    const file = join(dir, 'readonly.csv')
    writeFileSync(file, generateSampleCsv({ hosts: 1, scrapes: 1 }))
    chmodSync(file, 0o444)
    const before = readFileSync(file, 'utf8')
    const ino = statSync(file).ino
    const r = await stream(file)
    expect(r.sent).toBe(80)
    expect(r.writeBack).toBe(false)
    expect(readFileSync(file, 'utf8')).toBe(before)
    expect(statSync(file).ino).toBe(ino)
    expect(statSync(file).mode & 0o777).toBe(0o444)
  })

  it('never follows a symlink planted at a temp name, creates its temp file exclusively with a random name, and keeps the mode', async () => {
    const file = join(dir, 'victimised.csv')
    writeFileSync(file, generateSampleCsv({ hosts: 1, scrapes: 1 }))
    chmodSync(file, 0o640)
    const victim = join(dir, 'victim-secret')
    writeFileSync(victim, 'secret\n', { mode: 0o600 })
    // The name the old code used, predictable from the pid: another local user could plant this.
    symlinkSync(victim, join(dir, `.${basename(file)}.${process.pid}.tpipe-tmp`))
    const opened: { path: string; flags: string | number }[] = []
    const fs: WriteBackFs = { ...nodeFs, open: (p, f, m) => (opened.push({ path: p, flags: f }), nodeFs.open(p, f, m)) }
    const r = await stream(file, {}, undefined, fs)
    expect(r.writeBack).toBe(true)
    expect(readFileSync(victim, 'utf8')).toBe('secret\n')
    expect(statSync(victim).mode & 0o777).toBe(0o600)
    expect(statSync(file).mode & 0o777).toBe(0o640)
    expect(opened).toHaveLength(1)
    expect(opened[0]!.path).not.toContain(`.${process.pid}.`)
    expect(typeof opened[0]!.flags).toBe('number')
    const flags = opened[0]!.flags as number
    const { O_EXCL, O_NOFOLLOW, O_CREAT } = (await import('node:fs')).constants
    expect(flags & O_EXCL && flags & O_NOFOLLOW && flags & O_CREAT).toBeTruthy()
    // No temp file left behind besides the planted symlink.
    expect(readdirSync(dir).filter((f) => f.includes('tpipe-tmp')).map((f) => lstatSync(join(dir, f)).isSymbolicLink())).toEqual([true])
  })
})
