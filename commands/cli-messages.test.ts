// CLI messages as a user sees them (the built bin/run.js: `npm test` builds first), with no tpipe dev and no
// cluster: --json errors keep their code, message and exit code; one rule for replica counts; typo
// suggestions; `tpipe version`; setting errors name the real command; --target cluster names the cluster.
import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const home = mkdtempSync(join(tmpdir(), 'tpipe-msg-'))

function tpipe(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'bin/run.js'), ...args],
      {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', HOME: home, TPIPE_HOME: home, KUBECONFIG: join(home, 'none'), NODE_ENV: 'production', ...env },
        timeout: 120_000,
      },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

describe('CLI messages', { timeout: 180_000 }, () => {
  it('--json errors carry the real code and message, and the exit code matches', async () => {
    const port = await closedPort()
    const [scale, gpus] = await Promise.all([
      tpipe(['scale', 'mqreader', '2', '--json']),
      tpipe(['gpus', 'telemetry', 'GPU-nope', '--json', '--api-url', `http://127.0.0.1:${port}`]),
    ])
    const s = JSON.parse(scale.stdout) as { error: { code: string; message: string; exit: number } }
    expect(s.error.message).toMatch(/no `tpipe dev` instance is running and no Kubernetes cluster is reachable/)
    expect(s.error.exit).toBe(scale.code)
    expect(scale.code).toBe(3)
    const g = JSON.parse(gpus.stdout) as { error: { code: string; message: string; exit: number } }
    expect(g.error.code).toBe('TPIPE_ERR_UNREACHABLE')
    expect(g.error.message).toMatch(new RegExp(`cannot reach apigw at http://127\\.0\\.0\\.1:${port}: connection refused .*tpipe dev`))
    expect(gpus.code).toBe(1)
  })

  it('one rule for replica counts: the same message and exit code for -1, 0 (mqreader) and 100', async () => {
    const rs = await Promise.all([tpipe(['scale', 'mqreader', '--', '-1']), tpipe(['scale', 'mqreader', '0']), tpipe(['scale', 'mqreader', '100'])])
    for (const [r, v] of [
      [rs[0]!, '"-1"'],
      [rs[1]!, '"0"'],
      [rs[2]!, '"100"'],
    ] as const) {
      expect(r.code).toBe(2)
      expect(r.stderr.trim()).toBe(`Error: replicas must be a whole number from 1 to 64, got ${v} (mqreader needs at least 1: someone must own the partitions)`)
    }
  })

  it('suggests the command for a typo, has `tpipe version`, names the real command in setting errors and the cluster with --target cluster', async () => {
    const [typo, version, setting, cluster] = await Promise.all([
      tpipe(['gpu', 'list']),
      tpipe(['version']),
      tpipe(['migrate', 'status'], { TPIPE_LOG_LEVEL: 'loud' }),
      tpipe(['scale', 'mqreader', '2', '--target', 'cluster']),
    ])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toMatch(/has no command "gpu list"\. Did you mean `tpipe gpus list`\?/)
    expect(version.code).toBe(0)
    expect(version.stdout).toMatch(/^tpipe\/\d+\.\d+\.\d+ /)
    expect(setting.code).toBe(2)
    expect(setting.stderr).toMatch(/`tpipe migrate status --help` lists every setting/)
    expect(setting.stderr).not.toMatch(/<command>/)
    expect(cluster.code).toBe(3)
    expect(cluster.stderr).toMatch(/^Error: no Kubernetes cluster is reachable: /)
    expect(cluster.stderr).not.toMatch(/tpipe dev/)
  })

  it('one rule for --rate: tpipe dev and tpipe serve streamer refuse the same values with the same words', async () => {
    const [dev, streamer, ok] = await Promise.all([
      tpipe(['dev', '--rate', 'fast']),
      tpipe(['serve', 'streamer', '--rate', 'fast', '--csv', 'x.csv', '--mqwriter', 'http://127.0.0.1:1']),
      tpipe(['dev', '--rate', 'MAX', '--csv', join(home, 'missing.csv')]),
    ])
    const rule = /expected messages\/s >= 0 or "max", got "fast"/
    expect(dev.code).toBe(2)
    expect(dev.stderr).toMatch(rule)
    expect(streamer.code).toBe(2)
    expect(streamer.stderr).toMatch(rule)
    // "MAX" is the streamer's unlimited: dev gets past --rate and stops at the missing CSV instead.
    expect(ok.stderr).not.toMatch(/--rate/)
    expect(ok.stderr).toMatch(/missing\.csv/)
  })
})
