// What the npm package ships: the CLI and the services, not the test support or the benchmark suite
// (both need dev dependencies that an installation does not have). Packs the built package for real and
// runs `tpipe bench` from the unpacked copy, as a global install would.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { benchUnavailable } from '../src/cli/bench.js'

const root = fileURLToPath(new URL('..', import.meta.url))
let files: string[] = []
let unpacked = ''

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'commands', 'bench.js'))) throw new Error('build dist first: npm run build')
  const out = mkdtempSync(join(tmpdir(), 'tpipe-pack-'))
  // --ignore-scripts: pack the dist that `npm test` just built instead of building again.
  const json = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  const [info] = JSON.parse(json) as { filename: string; files: { path: string }[] }[]
  files = info!.files.map((f) => f.path)
  execFileSync('tar', ['xzf', join(out, info!.filename), '-C', out])
  unpacked = join(out, 'package')
  // An installation has its dependencies beside it; these include the dev ones, so only bench/ is missing.
  symlinkSync(join(root, 'node_modules'), join(unpacked, 'node_modules'))
}, 120_000)

describe('npm package', () => {
  it('ships the CLI and the services, no test support, tests or bench code', () => {
    expect(files).toContain('bin/run.js')
    expect(files).toContain('dist/commands/serve/mqwriter.js')
    expect(files).toContain('dist/src/kube/index.js')
    expect(files).toContain('dist/commands/bench.js') // the command ships; it explains what it needs
    const unwanted = files.filter((f) => /(^|\/)(test|testing|bench|scripts)\/|test-support|\.test\.|(^|\/)seed\.js/.test(f))
    expect(unwanted).toEqual([])
  })

  it('`tpipe bench` from an installation says in one line that it needs a clone with dev dependencies', { timeout: 150_000 }, () => {
    const r = spawnSync(process.execPath, [join(unpacked, 'bin', 'run.js'), 'bench', 'mqwriter'], {
      cwd: unpacked,
      env: { PATH: process.env.PATH ?? '', HOME: mkdtempSync(join(tmpdir(), 'tpipe-home-')), NODE_ENV: 'production' },
      encoding: 'utf8',
      timeout: 140_000,
    })
    expect(r.status).toBe(2)
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^Error: tpipe bench needs a clone of the repository with its dev dependencies/)
    expect(r.stdout).toBe('')
  })

  it('names the missing dev dependencies in a clone installed without them', () => {
    const clone = mkdtempSync(join(tmpdir(), 'tpipe-clone-'))
    mkdirSync(join(clone, 'bench'))
    writeFileSync(join(clone, 'bench', 'cli.ts'), '')
    writeFileSync(join(clone, 'package.json'), '{"name":"tpipe"}')
    expect(benchUnavailable(clone)).toMatch(/^tpipe bench needs the dev dependencies tsx, autocannon, pg-boss, which are not installed/)
    expect(benchUnavailable(root)).toBeUndefined()
  })
})
