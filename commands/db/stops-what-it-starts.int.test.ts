// Commands that run and end stop the embedded PostgreSQL they had to start (issue 13 item 3: "tpipe migrate
// status, tpipe bench and friends must not leave a PostgreSQL behind that they started"); one that was
// already running stays running. Through the built CLI, on a home of its own.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { embeddedStatus, ensureEmbedded, stopEmbedded } from '../../src/db/embedded.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const home = mkdtempSync(join(tmpdir(), 'tpipe-stops-'))

function tpipe(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'bin/run.js'), ...args], { env: { PATH: process.env.PATH ?? '', HOME: home, TPIPE_HOME: home, NODE_ENV: 'production' }, timeout: 150_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

describe('commands that run and end leave no PostgreSQL they started', { timeout: 300_000 }, () => {
  afterAll(async () => {
    await stopEmbedded(home).catch(() => {})
    rmSync(home, { recursive: true, force: true })
  })

  it('migrate up, migrate status and db maintain start it, use it and stop it; a running one is left running', async () => {
    for (const args of [['migrate', 'up'], ['migrate', 'status'], ['db', 'maintain', '--dry-run']]) {
      const r = await tpipe(args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      expect((await embeddedStatus(home)).running, `${args.join(' ')} left its PostgreSQL running`).toBe(false)
    }
    await ensureEmbedded(home)
    const r = await tpipe(['db', 'maintain', '--dry-run'])
    expect(r.code).toBe(0)
    // The dry run reports the three partitioned tables and their retention, hourly rollups included.
    expect(r.stdout).toMatch(/raw retention 7d, minute rollups 90d, hour rollups 400d, partition 1d \(dry run: nothing changed\)/)
    expect(r.stdout).toMatch(/partitions in retention: telemetry \d+, telemetry_1m \d+, telemetry_1h \d+; rows in default partitions: .*telemetry_1h 0/)
    expect((await embeddedStatus(home)).running).toBe(true)
  })
})
