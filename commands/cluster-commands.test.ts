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

  it('status prints the scrapers’ targets read through the pod proxy (issue 15)', { timeout: 60_000 }, async () => {
    const kubeconfig = join(home, 'kubeconfig-scraper')
    writeFileSync(kubeconfig, fake.kubeconfigYaml({ namespace: NS, context: 'kind-tpipe' }))
    const labels = { 'app.kubernetes.io/name': 'scraper', 'app.kubernetes.io/instance': 'tpipe' }
    fake.put('deployment', { metadata: { name: 'scraper', namespace: NS }, spec: { replicas: 1, selector: { matchLabels: labels } } })
    fake.put('pod', {
      metadata: { name: 'scraper-6d4f9-x2k4q', namespace: NS, labels },
      spec: { containers: [{ name: 'scraper', ports: [{ name: 'http', containerPort: 8080 }] }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    })
    const health = (host: string, up: boolean) => ({
      url: `http://${host}:9400/metrics`,
      instance: `${host}:9400`,
      up,
      last_scrape: new Date().toISOString(),
      last_duration_seconds: 0.02,
      last_samples: up ? 96 : 0,
      last_error: up ? null : 'HTTP 500',
      scrapes: 4,
      errors: up ? 0 : 4,
    })
    const view = { identity: 'scraper-6d4f9-x2k4q', members: ['scraper-6d4f9-x2k4q'], discovered: 2, targets: [health('10.0.0.1', true), health('10.0.0.2', false)] }
    fake.setPodProxy(NS, 'scraper-6d4f9-x2k4q', 'v1/targets', { body: JSON.stringify(view), port: 8080 })
    try {
      const text = await tpipe(['status', '--no-reader-metrics', '--kubeconfig', kubeconfig])
      expect(text.code).toBe(0)
      expect(text.stdout).toContain('scrapers: 1 pod, 2 targets scraped (1 up, 1 down) of 2 discovered')
      expect(text.stdout).toMatch(/scraper-6d4f9-x2k4q +2 +1 +1 +96 +\d+s ago\n {2}down http:\/\/10\.0\.0\.2:9400\/metrics: HTTP 500 \(4 of 4 scrapes failed\)/)
    } finally {
      fake.delete('deployment', NS, 'scraper')
      fake.delete('pod', NS, 'scraper-6d4f9-x2k4q')
    }
  })

  it('without any cluster: a clear message naming both possibilities, exit code 3', { timeout: 60_000 }, async () => {
    const r = await tpipe(['scale', 'mqreader', '2'])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('no `tpipe dev` instance is running and no Kubernetes cluster is reachable: no kubeconfig')
  })
})
