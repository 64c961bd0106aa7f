// Issue 12 defect 8: on SIGTERM a service fails readiness first and keeps serving for
// TPIPE_SHUTDOWN_DELAY_MS, then closes — so clients behind a Service are moved off the pod before its
// connections are refused. Run for real: the built `tpipe serve streamer` (no database needed).
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PACKAGE_ROOT } from '../paths.js'

const dir = mkdtempSync(join(tmpdir(), 'tpipe-shutdown-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}

async function get(url: string): Promise<number | string> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).status
  } catch (err) {
    return String((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message)
  }
}

describe('readiness-first shutdown (defect 8)', () => {
  it('after SIGTERM /readyz answers 503 while /healthz is still served for the delay; then the process exits 0', async () => {
    const csv = join(dir, 'in.csv')
    writeFileSync(csv, 'timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw\n')
    const port = await freePort()
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'run.js'), 'serve', 'streamer'], {
      env: { ...process.env, TPIPE_PORT: String(port), TPIPE_HOST: '127.0.0.1', TPIPE_CSV: csv, TPIPE_MQWRITER_URL: 'http://127.0.0.1:9', TPIPE_STREAMER_WRITE_BACK: 'false', TPIPE_SHUTDOWN_DELAY_MS: '3000', TPIPE_LOG_LEVEL: 'warn', TPIPE_HOME: join(dir, 'home') },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    const base = `http://127.0.0.1:${port}`
    const deadline = Date.now() + 60_000
    while ((await get(`${base}/healthz`)) !== 200) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`streamer did not start: ${stderr}`)
      await new Promise((r) => setTimeout(r, 200))
    }
    const signalledAt = Date.now()
    child.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 500))
    // Within the delay: not ready, but still serving.
    expect(await get(`${base}/readyz`)).toBe(503)
    expect(await get(`${base}/healthz`)).toBe(200)
    await new Promise((r) => setTimeout(r, 1000))
    expect(await get(`${base}/healthz`)).toBe(200)
    expect(await exit).toBe(0)
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(3000)
  }, 90_000)
})
