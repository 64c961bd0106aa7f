// Smoke test of the benchmark suite: every suite runs with tiny sizes for a second or two and writes
// its JSON with the machine's description. Figures are not asserted (this is not a timed test).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, inject, it } from 'vitest'
import { SUITES } from './context.js'

describe('npm run bench --smoke', () => {
  it('runs every suite and writes its JSON', () => {
    const out = mkdtempSync(join(tmpdir(), 'tpipe-bench-'))
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(process.cwd(), 'bench', 'cli.ts'), '--smoke', '--runs', '1', '--duration', '1', '--out', out], {
      env: { ...process.env, DATABASE_URL: inject('adminDatabaseUrl') },
      encoding: 'utf8',
      timeout: 400_000,
    })
    if (r.status !== 0) console.log(r.stdout, r.stderr)
    expect(r.status).toBe(0)
    const files = readdirSync(out)
    for (const s of SUITES) {
      const f = files.find((x) => x.startsWith(`${s}-`))
      expect(f, `JSON of ${s}`).toBeDefined()
      const j = JSON.parse(readFileSync(join(out, f!), 'utf8'))
      expect(j.suite).toBe(s)
      expect(j.machine.cores).toBeGreaterThan(0)
      expect(j.machine.postgres).toMatch(/^\d+/)
      expect(j.rows.length).toBeGreaterThan(0)
    }
    // the tables were printed too
    expect(r.stdout).toMatch(/\| figure \| median \(min–max\) \| ratio \| target \|/)
  })
})
