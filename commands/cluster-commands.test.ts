// `tpipe scale` and `tpipe status` as a user runs them (bin/dev.js through tsx, a child process) against
// the API fake, and without any cluster.
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startKubeFake, type KubeFake } from '../test/support/kube-fake.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const NS = 'tpipe'
let fake: KubeFake
let home: string

function tpipe(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(root, 'bin/dev.js'), ...args],
      { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: home, NODE_ENV: 'production', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

beforeAll(async () => {
  fake = await startKubeFake()
  home = mkdtempSync(join(tmpdir(), 'tpipe-cmd-'))
  fake.put('statefulset', { metadata: { name: 'mqreader', namespace: NS }, spec: { replicas: 2 } })
  for (const d of ['mqwriter', 'streamer', 'collector', 'apigw']) fake.put('deployment', { metadata: { name: d, namespace: NS }, spec: { replicas: 1 } })
})
afterAll(async () => {
  await fake.close()
})

describe('tpipe scale / tpipe status on a cluster', () => {
  it('scale patches the scale subresource; status --json reports it', { timeout: 60_000 }, async () => {
    const kubeconfig = join(home, 'kubeconfig')
    writeFileSync(kubeconfig, fake.kubeconfigYaml({ namespace: NS, context: 'kind-tpipe' }))
    const scaled = await tpipe(['scale', 'mqreader', '4', '--kubeconfig', kubeconfig])
    expect(scaled.stderr).toBe('')
    expect(scaled.code).toBe(0)
    expect(scaled.stdout).toContain('statefulset/mqreader in tpipe (kind-tpipe): 2 → 4 replicas')
    expect(fake.get('statefulset', NS, 'mqreader')!.spec.replicas).toBe(4)

    // KUBECONFIG works like kubectl's.
    const status = await tpipe(['status', '--json', '--no-reader-metrics'], { KUBECONFIG: kubeconfig })
    expect(status.code).toBe(0)
    const s = JSON.parse(status.stdout)
    expect(s.workloads.find((w: { service: string }) => w.service === 'mqreader')).toMatchObject({ desired: 4 })
    expect(s.controller).toMatchObject({ leader: null, generation: null })
  })

  it('without any cluster: a clear message naming both possibilities, exit code 3', { timeout: 60_000 }, async () => {
    const r = await tpipe(['scale', 'mqreader', '2'])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('no `tpipe dev` instance is running and no Kubernetes cluster is reachable: no kubeconfig')
  })
})
