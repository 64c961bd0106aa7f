// What the built CLI prints besides its answer: nothing. Under a test runner or a shell exporting
// NODE_ENV=test/development, oclif used to look for TypeScript sources next to tsconfig.json and print
// one "Could not find source" warning per command (issue 13 item 11: 22 of them per `npm test`).
import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))

function run(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = mkdtempSync(join(tmpdir(), 'tpipe-quiet-'))
  return new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'bin/run.js'), ...args], { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: home, TPIPE_HOME: home, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

describe('the built CLI is quiet', { timeout: 120_000 }, () => {
  it.each(['test', 'development'])('NODE_ENV=%s: `tpipe gpus list` against a closed port prints its one error and no oclif warnings', async (nodeEnv) => {
    const r = await run(['gpus', 'list', '--api-url', 'http://127.0.0.1:1'], { NODE_ENV: nodeEnv })
    expect(r.code).toBe(1)
    expect(r.stderr).not.toMatch(/Could not find source|Warning:/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^Error: cannot reach apigw at http:\/\/127\.0\.0\.1:1/)
  })
})
