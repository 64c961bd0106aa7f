// `tpipe dev` as a user runs it: the built CLI as a child process on a fresh database, then
// `tpipe gpus list`, `tpipe scale mqreader 4`, `tpipe status --json` against it, and Ctrl-C (SIGINT).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { stateFile } from './client.js'
import { waitFor } from '../util/async.js'
import { freePort } from '../util/net.js'

const RUN = join(process.cwd(), 'bin', 'run.js')

function tpipe(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [RUN, ...args], { env: { ...process.env, NODE_ENV: 'production', ...env }, encoding: 'utf8', timeout: 180_000 })
  // oclif wraps error lines at the terminal width and prefixes them with ›: unwrap for matching
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.replace(/\s*\n\s*›\s*/g, ' ') }
}

describe('tpipe dev, scale and status', () => {
  let db: TestDatabase
  let dev: ChildProcess | undefined
  let output = ''
  const home = mkdtempSync(join(tmpdir(), 'tpipe-dev-'))
  // No cluster either: a kubeconfig that does not exist.
  const env = { TPIPE_HOME: home, KUBECONFIG: join(home, 'no-kubeconfig'), HOME: home }

  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    if (dev && dev.exitCode === null) {
      dev.kill('SIGINT') // an ordered stop, so no service is left behind
      await once(dev, 'exit')
    }
    await db.drop()
  })

  it('clear errors from scale and status when neither tpipe dev nor a cluster is running', () => {
    const s = tpipe(['status'], env)
    expect(s.code).not.toBe(0)
    expect(s.stderr).toMatch(/no `tpipe dev` instance is running and no Kubernetes cluster is reachable/)
    const sc = tpipe(['scale', 'mqreader', '2'], env)
    expect(sc.code).not.toBe(0)
    expect(sc.stderr).toMatch(/no `tpipe dev` instance is running and no Kubernetes cluster is reachable/)
    const local = tpipe(['status', '--target', 'local'], env)
    expect(local.code).toBe(3)
    expect(local.stderr).toMatch(/no tpipe dev instance is running/)
  })

  it('runs the pipeline, lists GPUs, scales readers live to 4 × 64 partitions, and stops in order', async () => {
    const apiPort = await freePort()
    dev = spawn(process.execPath, [RUN, 'dev', '--port-base', String(apiPort), '--rate', '300', '--readers', '2', '--collectors', '2', '--streamers', '2'], {
      env: { ...process.env, NODE_ENV: 'production', ...env, DATABASE_URL: db.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    dev.stdout!.on('data', (d: Buffer) => (output += d.toString()))
    dev.stderr!.on('data', (d: Buffer) => (output += d.toString()))
    await waitFor(() => existsSync(stateFile(home)), { timeoutMs: 120_000, what: `tpipe dev to start:\n${output}`, intervalMs: 250 })
    expect(output).toMatch(/Swagger UI http:\/\/127\.0\.0\.1:\d+\/swagger/)

    // GPUs show up within seconds
    const api = `http://127.0.0.1:${apiPort}`
    await waitFor(() => tpipe(['gpus', 'list', '--api-url', api, '--output', 'json'], env).stdout.includes('GPU-'), { timeoutMs: 60_000, what: 'GPUs in the API', intervalMs: 1000 })
    const list = tpipe(['gpus', 'list', '--api-url', api], env)
    expect(list.code).toBe(0)

    const scaled = tpipe(['scale', 'mqreader', '4'], env)
    expect(scaled.stderr).toBe('')
    expect(scaled.code).toBe(0)
    expect(scaled.stdout).toMatch(/mqreader: 2 → 4 replicas on the tpipe dev instance/)

    const before = JSON.parse(tpipe(['status', '--json'], env).stdout)
    await new Promise((r) => setTimeout(r, 3000))
    const status = JSON.parse(tpipe(['status', '--json'], env).stdout)
    expect(status.target).toBe('local')
    expect(status.readers).toHaveLength(4)
    expect(status.readers.map((r: { partitionCount: number }) => r.partitionCount)).toEqual([64, 64, 64, 64])
    expect(status.readers.map((r: { partitions: string }) => r.partitions).sort()).toEqual(['0-63', '128-191', '192-255', '64-127'])
    expect(status.persisted).toBeGreaterThan(before.persisted) // rows still flowing after the move
    // readers 0 and 1 kept (part of) their partitions and were never restarted
    const readers = status.processes.filter((p: { service: string }) => p.service === 'mqreader')
    expect(readers.every((p: { restarts: number; state: string }) => p.restarts === 0 && p.state === 'up')).toBe(true)

    const text = tpipe(['status'], env)
    expect(text.stdout).toMatch(/mqreader-3\s+192-255\s+64/)

    dev.kill('SIGINT')
    const [code] = (await once(dev, 'exit')) as [number]
    expect(code).toBe(0)
    expect(output).toMatch(/shutting down: streamers → writers \(flush\) → readers \(drain\) → collectors → apigw → database/)
    expect(existsSync(stateFile(home))).toBe(false)
    dev = undefined
  })
})
