// CI checks what developers check: .ci/run runs lint and a typecheck that covers the tests before the
// README's test command, and the typecheck's tsconfig includes every test file (the build's excludes them).
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const read = (path: string) => readFileSync(`${root}/${path}`, 'utf8')

describe('.ci/run', () => {
  it('runs lint, then the typecheck, then the README test command, then the bench smoke and k8s suites', () => {
    const commands = read('.ci/run')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^npm (run |test|ci)/.test(l))
    const lint = commands.indexOf('npm run lint')
    const typecheck = commands.indexOf('npm run typecheck')
    expect(read('README.md')).toMatch(/^npm test\s/m) // the README's test command
    const test = commands.indexOf('npm test')
    expect(lint).toBeGreaterThan(commands.indexOf('npm ci --no-audit --no-fund'))
    expect(typecheck).toBeGreaterThan(lint)
    expect(test).toBeGreaterThan(typecheck)
    // the suites kept out of `npm test` for their length or their needs run too
    expect(commands.indexOf('npm run test:bench')).toBeGreaterThan(test)
    expect(commands.indexOf('npm run test:k8s')).toBeGreaterThan(test)
  })

  it('typechecks every test file: tsconfig.json includes each folder that holds tests', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> }
    expect(pkg.scripts.typecheck).toMatch(/^tsc -p tsconfig.json --noEmit\b/)
    const tsconfig = JSON.parse(read('tsconfig.json')) as { include: string[]; exclude?: string[] }
    for (const folder of ['src', 'commands', 'scripts', 'test', 'bench']) expect(tsconfig.include).toContain(folder)
    expect(JSON.stringify(tsconfig.exclude ?? [])).not.toMatch(/test/)
  })
})
