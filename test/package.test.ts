// What the npm package ships: the CLI and the services, not the test support or the benchmark suite
// (both need dev dependencies that an installation does not have). Packs the built package for real,
// runs `tpipe bench` from the unpacked copy, and installs the tarball globally (`npm install -g --prefix`)
// to plan `tpipe up` from there.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { benchUnavailable } from '../src/cli/bench.js'
import { contextCopies, dockerignore } from '../src/cluster/dockerfile.js'
import { helmBinary } from '../src/cluster/helm.js'

const root = fileURLToPath(new URL('..', import.meta.url))
let files: string[] = []
let unpacked = ''
let tarball = ''
let out = ''

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'commands', 'bench.js'))) throw new Error('build dist first: npm run build')
  out = mkdtempSync(join(tmpdir(), 'tpipe-pack-'))
  // --ignore-scripts: pack the dist that `npm test` just built instead of building again; the rest of
  // prepack (oclif manifest, the image's lock file copy) is run here, and postpack's cleanup after.
  let json: string
  try {
    // NODE_ENV=production: under vitest (NODE_ENV=test) oclif would list the commands' .ts sources.
    execFileSync(process.execPath, [join(root, 'scripts', 'manifest.js')], { cwd: root, stdio: 'ignore', env: { ...process.env, NODE_ENV: 'production' } })
    json = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } finally {
    for (const f of ['oclif.manifest.json', 'image-package-lock.json']) rmSync(join(root, f), { force: true })
  }
  const [info] = JSON.parse(json) as { filename: string; files: { path: string }[] }[]
  files = info!.files.map((f) => f.path)
  tarball = join(out, info!.filename)
  execFileSync('tar', ['xzf', tarball, '-C', out])
  unpacked = join(out, 'package')
  // An installation has its dependencies beside it; these include the dev ones, so only bench/ is missing.
  symlinkSync(join(root, 'node_modules'), join(unpacked, 'node_modules'))
}, 120_000)
afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true })
}, 60_000)

describe('npm package', () => {
  it('ships the CLI and the services, no test support, tests or bench code', () => {
    expect(files).toContain('bin/run.js')
    expect(files).toContain('dist/commands/serve/mqwriter.js')
    expect(files).toContain('dist/src/kube/index.js')
    expect(files).toContain('dist/commands/bench.js') // the command ships; it explains what it needs
    const unwanted = files.filter((f) => /(^|\/)(test|testing|bench|scripts)\/|test-support|\.test\.|(^|\/)seed\.js/.test(f))
    expect(unwanted).toEqual([])
  })

  it('ships every document and picture the README links to (docs/, the OpenAPI document, BENCHMARKS.md)', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)|src="([^"]+)"/g)].map((m) => m[1] ?? m[2]!).filter((l) => !/^[a-z]+:/i.test(l) && !l.startsWith('../'))
    expect(links).toEqual(expect.arrayContaining(['docs/openapi.json', 'docs/streamer-apigw.md', 'docs/fleet.png', 'BENCHMARKS.md']))
    for (const l of new Set(links)) expect(files, l).toContain(l)
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

  it('`tpipe up --dry-run` from a global install plans the image build from a complete build context and the chart install (issue 12)', { timeout: 150_000 }, () => {
    const prefix = join(out, 'global')
    // The dependencies come from npm's cache (npm ci filled it); no build, no dev dependencies.
    execFileSync('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: out, stdio: 'ignore', timeout: 140_000 })
    const tools = join(out, 'tools')
    mkdirSync(tools)
    symlinkSync(helmBinary()!, join(tools, 'helm')) // an installation has no dev dependency: helm comes from PATH
    const anywhere = mkdtempSync(join(tmpdir(), 'tpipe-anywhere-'))
    const r = spawnSync(join(prefix, 'bin', 'tpipe'), ['up', '--dry-run', '--json', '--image-tag', '0.1.0-pkg', '--name', 'pkg'], {
      cwd: anywhere,
      env: { PATH: [tools, dirname(process.execPath), '/usr/bin', '/bin'].join(':'), HOME: anywhere },
      encoding: 'utf8',
      timeout: 120_000,
    })
    expect(r.status, r.stderr).toBe(0)
    const plan = JSON.parse(r.stdout) as { steps: { id: string; commands: string[] }[]; manifests: { name: string; content: string }[] }
    const build = plan.steps.find((s) => s.id === 'image')!.commands[0]!
    const context = build.split(' ').at(-1)!
    const installed = join(prefix, 'lib', 'node_modules', 'tpipe')
    expect(context).toBe(installed)
    // Everything the Dockerfile copies (for the build the plan runs) is in the installed package, and not
    // left out by its .dockerignore.
    expect(existsSync(join(context, 'Dockerfile'))).toBe(true)
    expect(build).toBe(`docker build --tag tpipe:0.1.0-pkg --build-arg DIST=prebuilt --build-arg LOCKFILE=image-package-lock.json ${installed}`)
    const copies = contextCopies(readFileSync(join(context, 'Dockerfile'), 'utf8'), { DIST: 'prebuilt', LOCKFILE: 'image-package-lock.json' })
    expect(copies).toEqual(expect.arrayContaining(['dist', 'oclif.manifest.json', 'package.json', 'image-package-lock.json', 'bin', 'migrations']))
    const ignored = dockerignore(readFileSync(join(context, '.dockerignore'), 'utf8'))
    for (const c of copies) {
      expect(existsSync(join(context, c)), c).toBe(true)
      const sample = statSync(join(context, c)).isDirectory() ? `${c}/${readdirSync(join(context, c)).find((f) => f.endsWith('.js') || f.endsWith('.sql'))}` : c
      expect(ignored(sample), sample).toBe(false)
    }
    expect(ignored('node_modules/pg/package.json')).toBe(true)
    expect(existsSync(join(context, 'dist', 'commands', 'serve', 'mqwriter.js'))).toBe(true)
    expect(JSON.parse(readFileSync(join(context, 'oclif.manifest.json'), 'utf8')).commands['serve:mqwriter']).toBeDefined()
    // The image's `npm ci --omit=dev` gets the repository's lock file.
    expect(readFileSync(join(context, 'image-package-lock.json'), 'utf8')).toBe(readFileSync(join(root, 'package-lock.json'), 'utf8'))
    // And the chart install, from the installed package's charts and kind values.
    const install = plan.steps.find((s) => s.id === 'pipeline')!.commands.find((c) => c.startsWith('helm upgrade --install tpipe'))!
    expect(install).toContain(`--values ${join(installed, 'kind', 'values.yaml')}`)
    const rendered = plan.manifests.find((m) => m.name.startsWith('helm template'))!
    expect(rendered.content).toMatch(/kind: StatefulSet\n/)
    expect(rendered.content).toContain('image: "tpipe:0.1.0-pkg"')
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
