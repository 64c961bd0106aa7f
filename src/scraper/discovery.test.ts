import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startKubeFake, type KubeFake, type Obj } from '../testing/kube-fake.js'
import { PodDiscovery } from './discovery.js'
import type { Target } from './manager.js'
import { mine } from './shard.js'

function pod(name: string, ip: string, labels: Record<string, string>, opts: { ready?: boolean; node?: string; metricsPort?: number; namespace?: string } = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: opts.namespace ?? 'gpu-operator', labels },
    spec: {
      nodeName: opts.node ?? `node-${name}`,
      containers: [{ name: 'exporter', image: 'nvcr.io/nvidia/k8s/dcgm-exporter', ports: opts.metricsPort ? [{ name: 'metrics', containerPort: opts.metricsPort }] : [] }],
    },
    status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
  }
}

const EXPORTER = { 'app.kubernetes.io/name': 'dcgm-exporter' }
const SCRAPER = { 'app.kubernetes.io/name': 'scraper' }

describe('scraper discovery through the Kubernetes API (fake)', () => {
  let kube: KubeFake
  beforeAll(async () => {
    kube = await startKubeFake({ namespace: 'tpipe' })
  })
  afterAll(async () => {
    await kube.close()
  })

  it('lists ready dcgm-exporter pods by selector; targets appear and disappear on relist', async () => {
    kube.put('pod', pod('dcgm-a', '10.0.0.1', EXPORTER, { node: 'gpu-node-1' }))
    kube.put('pod', pod('dcgm-b', '10.0.0.2', EXPORTER, { metricsPort: 9500 }))
    kube.put('pod', pod('dcgm-c', '10.0.0.3', EXPORTER, { ready: false }))
    kube.put('pod', pod('other', '10.0.0.9', { 'app.kubernetes.io/name': 'something-else' }))
    kube.put('pod', pod('dcgm-elsewhere', '10.0.9.1', EXPORTER, { namespace: 'default' }))
    const seen: Target[][] = []
    const d = new PodDiscovery({
      kubeConfig: kube.kubeConfig({ token: 'scraper' }),
      namespace: 'gpu-operator',
      selector: 'app.kubernetes.io/name=dcgm-exporter',
      port: 9400,
      path: '/metrics',
      relistMs: 50,
      onChange: (t) => seen.push(t),
    })
    await d.listOnce()
    expect(seen.at(-1)).toEqual([
      { url: 'http://10.0.0.1:9400/metrics', instance: '10.0.0.1:9400', fallbackHost: 'gpu-node-1' },
      { url: 'http://10.0.0.2:9500/metrics', instance: '10.0.0.2:9500', fallbackHost: 'node-dcgm-b' },
    ])
    const lists = kube.requests.filter((r) => r.path === '/api/v1/namespaces/gpu-operator/pods')
    expect(lists.at(-1)?.query.labelSelector).toBe('app.kubernetes.io/name=dcgm-exporter')
    expect(kube.writesBy('scraper')).toEqual([])

    d.start()
    kube.put('pod', pod('dcgm-c', '10.0.0.3', EXPORTER)) // becomes ready
    kube.delete('pod', 'gpu-operator', 'dcgm-a') // node gone
    const deadline = Date.now() + 5000
    while (Date.now() < deadline && JSON.stringify(seen.at(-1)?.map((t) => t.url)) !== JSON.stringify(['http://10.0.0.2:9500/metrics', 'http://10.0.0.3:9400/metrics'])) {
      await new Promise((r) => setTimeout(r, 20))
    }
    await d.stop()
    expect(seen.at(-1)?.map((t) => t.url)).toEqual(['http://10.0.0.2:9500/metrics', 'http://10.0.0.3:9400/metrics'])
    // unchanged lists do not call onChange again
    const before = seen.length
    await d.listOnce()
    expect(seen.length).toBe(before)
  })

  it('keeps the last targets through an API error and recovers', async () => {
    const errors: unknown[] = []
    let last: Target[] = []
    const d = new PodDiscovery({
      kubeConfig: kube.kubeConfig({ token: 'scraper' }),
      namespace: 'gpu-operator',
      selector: 'app.kubernetes.io/name=dcgm-exporter',
      port: 9400,
      path: '/metrics',
      relistMs: 30,
      onChange: (t) => (last = t),
      onError: (e) => errors.push(e),
    })
    await d.listOnce()
    const known = last.length
    kube.failNext({ method: 'GET', pathIncludes: '/pods' }, 503, { times: 2 })
    d.start()
    const deadline = Date.now() + 5000
    while (Date.now() < deadline && (errors.length < 2 || d.lists < 2)) await new Promise((r) => setTimeout(r, 20))
    await d.stop()
    expect(errors.length).toBeGreaterThanOrEqual(2)
    expect(d.lists).toBeGreaterThanOrEqual(2)
    expect(last.length).toBe(known)
  })

  it('shards targets over the ready scraper pods; losing one moves only its targets', async () => {
    for (let i = 0; i < 40; i++) kube.put('pod', pod(`dcgm-n${i}`, `10.1.0.${i + 1}`, EXPORTER))
    for (const n of ['scraper-0', 'scraper-1', 'scraper-2']) kube.put('pod', pod(n, `10.2.0.${n.slice(-1)}`, SCRAPER, { namespace: 'tpipe' }))
    const views = new Map<string, { targets: Target[]; peers: string[] }>()
    const discoveries = ['scraper-0', 'scraper-1', 'scraper-2'].map(
      (me) =>
        new PodDiscovery({
          kubeConfig: kube.kubeConfig({ token: me }),
          namespace: 'gpu-operator',
          selector: 'app.kubernetes.io/name=dcgm-exporter',
          port: 9400,
          path: '/metrics',
          peers: { namespace: 'tpipe', selector: 'app.kubernetes.io/name=scraper' },
          relistMs: 1000,
          onChange: (t, p) => views.set(me, { targets: t, peers: p ?? [] }),
        }),
    )
    const assigned = () => {
      const out = new Map<string, string>()
      for (const [me, v] of views) {
        if (!v.peers.includes(me)) continue
        for (const t of mine(v.targets, (x) => x.url, v.peers, me)) {
          expect(out.has(t.url), `${t.url} scraped twice`).toBe(false)
          out.set(t.url, me)
        }
      }
      return out
    }
    for (const d of discoveries) await d.listOnce()
    const before = assigned()
    const all = views.get('scraper-0')!.targets
    expect(before.size).toBe(all.length) // every target has exactly one scraper
    expect(new Set(before.values()).size).toBe(3)

    // scraper-1 becomes unready (its node drains): the others pick up its targets, nothing else moves
    kube.put('pod', pod('scraper-1', '10.2.0.1', SCRAPER, { namespace: 'tpipe', ready: false }))
    for (const d of discoveries) await d.listOnce()
    views.delete('scraper-1')
    const after = assigned()
    expect(after.size).toBe(all.length)
    const moved = [...after].filter(([url, owner]) => before.get(url) !== owner).map(([url]) => url)
    expect(moved.length).toBeGreaterThan(0)
    expect(moved.every((url) => before.get(url) === 'scraper-1')).toBe(true)
    expect([...before].filter(([, o]) => o === 'scraper-1').length).toBe(moved.length)
  })
})
