// `tpipe scale` / `tpipe status` cluster backends against the API fake: the right requests (scale
// subresource, merge patch, HPA pin), the right reading of Lease/ConfigMap, and clear errors without a cluster.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ASSIGNMENT_KEY, formatAssignmentDoc } from '../protocol/assignment.js'
import { startKubeFake, type KubeFake } from '../../test/support/kube-fake.js'
import { cliClusterError } from '../cli/cluster.js'
import { ClusterUnavailableError, podProxyGet } from '../kube/index.js'
import { freePort } from '../util/net.js'
import { ScaleError, formatScaleResult, scaleOnCluster } from './scale.js'
import type { TargetHealth } from '../protocol/targets.js'
import { clusterStatus, formatClusterStatus, parseGauge } from './status.js'

const NS = 'tpipe'
let fake: KubeFake
let kubeconfig: string

function install(prefix = ''): void {
  const n = (s: string) => (prefix ? `${prefix}-${s}` : s)
  fake.put('statefulset', { metadata: { name: n('mqreader'), namespace: NS }, spec: { replicas: 2, template: { metadata: {} } } })
  for (const d of ['mqwriter', 'streamer', 'collector', 'apigw']) fake.put('deployment', { metadata: { name: n(d), namespace: NS }, spec: { replicas: 1 } })
}

function hpa(name: string, kind: string, target: string, min: number, max: number): void {
  fake.put('hpa', { metadata: { name, namespace: NS }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind, name: target }, minReplicas: min, maxReplicas: max, metrics: [] } })
}

beforeEach(async () => {
  fake = await startKubeFake({ namespace: 'default' })
  const dir = mkdtempSync(join(tmpdir(), 'tpipe-kube-'))
  kubeconfig = join(dir, 'config')
  writeFileSync(kubeconfig, fake.kubeconfigYaml({ token: 'cli', namespace: NS, context: 'kind-tpipe' }))
})
afterEach(async () => {
  await fake.close()
})

describe('the namespace tpipe is installed in (defect 9)', () => {
  const labelled = (ns: string) => ({ metadata: { name: 'mqreader', namespace: ns, labels: { 'app.kubernetes.io/part-of': 'tpipe', 'app.kubernetes.io/name': 'mqreader' } }, spec: { replicas: 2, template: { metadata: {} } } })

  it('without --namespace, scale and status find the install (tpipe up uses "tpipe") instead of the context’s "default"', async () => {
    writeFileSync(kubeconfig, fake.kubeconfigYaml({ token: 'cli', context: 'kind-tpipe' }))
    install()
    fake.put('statefulset', labelled(NS))
    const st = await clusterStatus({ kubeconfig })
    expect(st.namespace).toBe(NS)
    const r = await scaleOnCluster({ kubeconfig, service: 'mqreader', replicas: 3 })
    expect(r).toMatchObject({ namespace: NS, from: 2, to: 3 })
  })

  it('--namespace wins; the context’s namespace stays when tpipe is there; several installs elsewhere is an error naming them', async () => {
    writeFileSync(kubeconfig, fake.kubeconfigYaml({ token: 'cli', context: 'kind-tpipe' }))
    fake.put('statefulset', labelled('a'))
    fake.put('statefulset', labelled('b'))
    await expect(clusterStatus({ kubeconfig })).rejects.toThrow(/several namespaces \(a, b\).*--namespace/)
    expect((await clusterStatus({ kubeconfig, namespace: 'b' })).namespace).toBe('b')
    writeFileSync(kubeconfig, fake.kubeconfigYaml({ token: 'cli', context: 'kind-tpipe', namespace: 'a' }))
    expect((await clusterStatus({ kubeconfig })).namespace).toBe('a')
  })
})

describe('scaleOnCluster', () => {
  it('mqreader: merge-patches the StatefulSet scale subresource in the context namespace', async () => {
    install()
    const r = await scaleOnCluster({ kubeconfig, service: 'mqreader', replicas: 4 })
    expect(r).toMatchObject({ backend: 'cluster', context: 'kind-tpipe', namespace: NS, kind: 'StatefulSet', name: 'mqreader', from: 2, to: 4, hpa: null })
    const patch = fake.requests.find((q) => q.method === 'PATCH')!
    expect(patch.path).toBe(`/apis/apps/v1/namespaces/${NS}/statefulsets/mqreader/scale`)
    expect(patch.contentType).toBe('application/merge-patch+json')
    expect(patch.body).toEqual({ spec: { replicas: 4 } })
    expect(patch.status).toBe(200)
    expect(fake.get('statefulset', NS, 'mqreader')!.spec.replicas).toBe(4)
    expect(formatScaleResult(r)).toContain('statefulset/mqreader in tpipe (kind-tpipe): 2 → 4 replicas')
  })

  it('other services are Deployments; --namespace, --context and --name-prefix pick the object', async () => {
    writeFileSync(kubeconfig, fake.kubeconfigYaml({ token: 'cli', namespace: 'elsewhere', context: 'kind-tpipe' }))
    install('rel')
    const r = await scaleOnCluster({ kubeconfig, context: 'kind-tpipe', namespace: NS, namePrefix: 'rel', service: 'collector', replicas: 3 })
    expect(r).toMatchObject({ kind: 'Deployment', name: 'rel-collector', from: 1, to: 3 })
    expect(fake.requests.find((q) => q.method === 'PATCH')!.path).toBe(`/apis/apps/v1/namespaces/${NS}/deployments/rel-collector/scale`)
  })

  it('scraper: its Deployment, like the other services (issue 15)', async () => {
    fake.put('deployment', { metadata: { name: 'scraper', namespace: NS }, spec: { replicas: 1 } })
    const r = await scaleOnCluster({ kubeconfig, context: 'kind-tpipe', namespace: NS, service: 'scraper', replicas: 3 })
    expect(r).toMatchObject({ kind: 'Deployment', name: 'scraper', from: 1, to: 3 })
    const patch = fake.requests.find((q) => q.method === 'PATCH')!
    expect(patch.path).toBe(`/apis/apps/v1/namespaces/${NS}/deployments/scraper/scale`)
    expect(formatScaleResult(r)).toBe(`deployment/scraper in ${NS} (kind-tpipe): 1 → 3 replicas`)
  })

  it('an HPA is reported without --pin, and pinned (min = max = n) with it, before the scale patch', async () => {
    install()
    hpa('mqwriter', 'Deployment', 'mqwriter', 1, 5)
    const plain = await scaleOnCluster({ kubeconfig, service: 'mqwriter', replicas: 8 })
    expect(plain.hpa).toEqual({ name: 'mqwriter', minReplicas: 1, maxReplicas: 5, pinned: false })
    expect(plain.notes.join('\n')).toMatch(/HorizontalPodAutoscaler mqwriter manages mqwriter with min 1, max 5: .*--pin/)
    expect(fake.get('hpa', NS, 'mqwriter')!.spec.maxReplicas).toBe(5)

    const pinned = await scaleOnCluster({ kubeconfig, service: 'mqwriter', replicas: 3, pin: true })
    expect(pinned.hpa).toEqual({ name: 'mqwriter', minReplicas: 1, maxReplicas: 5, pinned: true })
    const patches = fake.requests.filter((q) => q.method === 'PATCH').slice(-2)
    expect(patches.map((p) => p.path)).toEqual([`/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/mqwriter`, `/apis/apps/v1/namespaces/${NS}/deployments/mqwriter/scale`])
    expect(patches[0]!.contentType).toBe('application/merge-patch+json')
    expect(patches[0]!.body).toEqual({ spec: { minReplicas: 3, maxReplicas: 3 } })
    expect(fake.get('hpa', NS, 'mqwriter')!.spec).toMatchObject({ minReplicas: 3, maxReplicas: 3 })
    expect(fake.get('deployment', NS, 'mqwriter')!.spec.replicas).toBe(3)
  })

  it('the fake refuses a merge-patch body sent as JSON Patch, as the API server does', async () => {
    install()
    const res = await fetch(`${fake.url}/apis/apps/v1/namespaces/${NS}/statefulsets/mqreader/scale`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json-patch+json' },
      body: JSON.stringify({ spec: { replicas: 9 } }),
    })
    expect(res.status).toBe(400)
    expect(fake.get('statefulset', NS, 'mqreader')!.spec.replicas).toBe(2)
  })

  it('clear errors: unknown service, missing workload, pin to 0', async () => {
    install()
    await expect(scaleOnCluster({ kubeconfig, service: 'postgres', replicas: 2 })).rejects.toThrow(/scalable services are mqwriter, mqreader, streamer, collector, apigw/)
    await expect(scaleOnCluster({ kubeconfig, service: 'mqreader', replicas: 0, pin: true })).rejects.toThrow(ScaleError)
    await expect(scaleOnCluster({ kubeconfig, namespace: 'empty', service: 'apigw', replicas: 2 })).rejects.toThrow(/no Deployment "apigw" in namespace "empty".*tpipe up/)
  })
})

describe('clusterStatus', () => {
  it('replicas, HPAs, the leader and generation, each reader’s partitions and buffer utilization', async () => {
    install()
    fake.setReplicas('statefulset', NS, 'mqreader', 3)
    hpa('mqreader', 'StatefulSet', 'mqreader', 2, 8)
    fake.put('lease', { metadata: { name: 'partition-controller', namespace: NS }, spec: { holderIdentity: 'partition-controller-7d9-abc', renewTime: '2026-11-27T18:00:00.000000Z', leaseTransitions: 2 } })
    fake.put('configmap', {
      metadata: { name: 'mqreader-partitions', namespace: NS },
      data: { [ASSIGNMENT_KEY]: formatAssignmentDoc({ generation: 4, replicas: 3, assignments: { 'mqreader-0': '0-85', 'mqreader-1': '171-255', 'mqreader-2': '86-170' } }) },
    })
    fake.setPodMetrics(NS, 'mqreader-0', '# HELP mqreader_buffer_utilization x\n# TYPE mqreader_buffer_utilization gauge\nmqreader_buffer_utilization 0.25\n')
    fake.setPodMetrics(NS, 'mqreader-2', 'mqreader_buffer_utilization{reader="mqreader-2"} 0.5\n')
    const s = await clusterStatus({ kubeconfig })
    expect(s.namespace).toBe(NS)
    expect(s.workloads.find((w) => w.service === 'mqreader')).toEqual({
      service: 'mqreader',
      kind: 'StatefulSet',
      name: 'mqreader',
      desired: 3,
      ready: 3,
      hpa: { name: 'mqreader', minReplicas: 2, maxReplicas: 8 },
    })
    expect(s.controller).toMatchObject({ leader: 'partition-controller-7d9-abc', generation: 4, replicas: 3, leaseTransitions: 2 })
    expect(s.readers).toEqual([
      { name: 'mqreader-0', partitions: '0-85', partitionCount: 86, bufferUtilization: 0.25 },
      { name: 'mqreader-1', partitions: '171-255', partitionCount: 85, bufferUtilization: null },
      { name: 'mqreader-2', partitions: '86-170', partitionCount: 85, bufferUtilization: 0.5 },
    ])
    // The metrics were read through the pod proxy on the reader port.
    expect(fake.requests.some((q) => decodeURIComponent(q.path) === `/api/v1/namespaces/${NS}/pods/mqreader-0:8080/proxy/metrics`)).toBe(true)
    // Read-only.
    expect(fake.requests.filter((q) => q.method !== 'GET')).toEqual([])
    const text = formatClusterStatus(s)
    expect(text).toContain('leader partition-controller-7d9-abc')
    expect(text).toMatch(/mqreader-0\s+0-85\s+86\s+25%/)
  })

  it('before the controller has run: no leader, no generation, readers without entries', async () => {
    install()
    const s = await clusterStatus({ kubeconfig, metrics: false })
    expect(s.controller).toMatchObject({ leader: null, generation: null })
    expect(s.controller.problem).toMatch(/does not exist yet/)
    expect(s.readers.map((r) => [r.name, r.partitions])).toEqual([
      ['mqreader-0', null],
      ['mqreader-1', null],
    ])
    expect(fake.requests.some((q) => q.path.includes('/proxy/'))).toBe(false)
  })

  it('a namespace without tpipe shows every workload as not installed', async () => {
    const s = await clusterStatus({ kubeconfig, namespace: 'empty', metrics: false })
    expect(s.workloads.every((w) => w.desired === null)).toBe(true)
    expect(formatClusterStatus(s)).toContain('not installed')
  })
})

describe('clusterStatus: the scrapers’ targets (issue 15)', () => {
  // As the scraper chart makes them: the Deployment selects by name + instance, the container port is "http".
  const selector = { 'app.kubernetes.io/name': 'scraper', 'app.kubernetes.io/instance': 'tpipe' }
  const NOW = Date.parse('2026-11-30T16:00:00Z')
  const at = (s: number) => new Date(NOW - s * 1000).toISOString()

  function scraperDeployment(replicas: number): void {
    fake.put('deployment', { metadata: { name: 'scraper', namespace: NS }, spec: { replicas, selector: { matchLabels: selector } } })
  }
  function pod(name: string, opts: { phase?: string; ready?: boolean; port?: number; labels?: Record<string, string> } = {}): void {
    fake.put('pod', {
      metadata: { name, namespace: NS, labels: opts.labels ?? { ...selector, 'app.kubernetes.io/component': 'scraper' } },
      spec: { containers: [{ name: 'scraper', ports: [{ name: 'http', containerPort: opts.port ?? 8080 }] }] },
      status: { phase: opts.phase ?? 'Running', conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
    })
  }
  function target(host: string, up: boolean | null, extra: Partial<TargetHealth> = {}): TargetHealth {
    return {
      url: `http://${host}:9400/metrics`,
      instance: `${host}:9400`,
      up,
      last_scrape: up === null ? null : at(4),
      last_duration_seconds: up === null ? null : 0.012,
      last_samples: up ? 80 : 0,
      last_error: up === false ? 'connect ECONNREFUSED 10.0.1.7:9400' : null,
      scrapes: up === null ? 0 : 12,
      errors: up === false ? 3 : 0,
      ...extra,
    }
  }
  function answer(name: string, targets: TargetHealth[], port?: number): void {
    const view = { identity: name, members: ['scraper-a', 'scraper-b', 'scraper-c'], discovered: 6, targets }
    fake.setPodProxy(NS, name, 'v1/targets', { body: JSON.stringify(view), ...(port ? { port } : {}) })
  }

  it('per pod: targets, up, down, samples, the failing ones; a pod that does not answer, one not running, one too old to know the route', async () => {
    install()
    scraperDeployment(3)
    pod('scraper-a')
    pod('scraper-b', { port: 9091 })
    pod('scraper-c')
    pod('scraper-d', { phase: 'Pending', ready: false })
    pod('scraper-e')
    pod('scraper-f') // the API server cannot reach it: 503
    pod('mqwriter-x', { labels: { 'app.kubernetes.io/name': 'mqwriter', 'app.kubernetes.io/instance': 'tpipe' } })
    const a = [target('10.0.1.5', true), target('10.0.1.6', true, { last_scrape: at(2) }), target('10.0.1.7', false)]
    answer('scraper-a', a)
    answer('scraper-b', [target('10.0.1.8', true, { last_scrape: at(130) }), target('10.0.1.9', null)], 9091)
    fake.setPodProxy(NS, 'scraper-c', 'v1/targets', 'hang')
    fake.setPodProxy(NS, 'scraper-e', 'v1/targets', { status: 404, body: JSON.stringify({ error: { code: 'TPIPE_ERR_NOT_FOUND', message: 'Route GET:/v1/targets not found' } }) })

    const t0 = Date.now()
    const s = await clusterStatus({ kubeconfig, metricsTimeoutMs: 300 })
    // The pod that never answers costs one timeout, not the whole status.
    expect(Date.now() - t0).toBeLessThan(2000)
    expect(s.scrapers?.selector).toBe('app.kubernetes.io/name=scraper,app.kubernetes.io/instance=tpipe')
    expect(s.scrapers?.pods.map((p) => [p.pod, p.phase, p.ready, p.port, p.counts, p.error])).toEqual([
      ['scraper-a', 'Running', true, 8080, { targets: 3, up: 2, down: 1, pending: 0, samples: 160 }, null],
      ['scraper-b', 'Running', true, 9091, { targets: 2, up: 1, down: 0, pending: 1, samples: 80 }, null],
      ['scraper-c', 'Running', true, 8080, null, 'not answering: no answer within 300 ms'],
      ['scraper-d', 'Pending', false, 8080, null, 'pod is Pending'],
      ['scraper-e', 'Running', true, 8080, null, '/v1/targets answered HTTP 404: TPIPE_ERR_NOT_FOUND Route GET:/v1/targets not found'],
      ['scraper-f', 'Running', true, 8080, null, 'not answering: HTTP 503: no endpoints available'],
    ])
    // --json carries every target's health as the scraper reported it.
    expect(s.scrapers?.pods[0]).toMatchObject({ identity: 'scraper-a', discovered: 6, targets: a })
    // Read through the pod proxy on each pod's "http" port; the Pending pod is not asked; read-only.
    const proxied = fake.requests.filter((q) => q.path.includes('/proxy/')).map((q) => decodeURIComponent(q.path))
    expect(proxied.filter((p) => p.includes('scraper')).sort()).toEqual(
      ['scraper-a:8080', 'scraper-b:9091', 'scraper-c:8080', 'scraper-e:8080', 'scraper-f:8080'].map((p) => `/api/v1/namespaces/${NS}/pods/${p}/proxy/v1/targets`),
    )
    // With the kubeconfig's credentials (the API server authorizes pods/proxy); no token of ours: the route is open.
    expect(fake.requests.filter((q) => q.path.includes('/proxy/')).every((q) => q.token === 'cli')).toBe(true)
    expect(fake.requests.filter((q) => q.method !== 'GET')).toEqual([])

    const text = formatClusterStatus(s, NOW)
    console.log(text)
    expect(text).toContain('scrapers: 6 pods, 5 targets scraped (3 up, 1 down) of 6 discovered')
    expect(text).toMatch(/\nscraper-a +3 +2 +1 +160 +2s ago\n {2}down http:\/\/10\.0\.1\.7:9400\/metrics: connect ECONNREFUSED 10\.0\.1\.7:9400 \(3 of 12 scrapes failed\)\n/)
    expect(text).toMatch(/\nscraper-b +2 +1 +0 +80 +2m ago +1 not scraped yet\n/)
    expect(text).toMatch(/\nscraper-c +- +- +- +- +- +not answering: no answer within 300 ms\n/)
    expect(text).toMatch(/\nscraper-d +- +- +- +- +- +pod is Pending$/m)
  })

  it('the failing targets listed are bounded; --json has them all', async () => {
    install()
    scraperDeployment(1)
    pod('scraper-a')
    answer('scraper-a', [...Array.from({ length: 8 }, (_, i) => target(`10.0.2.${i}`, false)), target('10.0.3.1', true)])
    const s = await clusterStatus({ kubeconfig, metrics: false })
    expect(s.scrapers?.pods[0]?.targets.filter((t) => t.up === false)).toHaveLength(8)
    const text = formatClusterStatus(s, NOW)
    expect(text.match(/^ {2}down /gm)).toHaveLength(5)
    expect(text).toContain('  … and 3 more down (--json lists every target)')
  })

  it('no scraper deployed (the default): no section and no pod list; deployed without pods: says so; --no-scraper-targets: not read', async () => {
    install()
    let s = await clusterStatus({ kubeconfig, metrics: false })
    expect(s.scrapers).toBeNull()
    // (the workload table still says "scraper … not installed")
    expect(formatClusterStatus(s)).not.toMatch(/scrapers:|SCRAPER/)
    expect(fake.requests.some((q) => q.path.includes('/pods'))).toBe(false)

    scraperDeployment(0)
    s = await clusterStatus({ kubeconfig, metrics: false })
    expect(s.scrapers).toEqual({ selector: 'app.kubernetes.io/name=scraper,app.kubernetes.io/instance=tpipe', pods: [] })
    expect(formatClusterStatus(s)).toContain('scrapers: 0 pods\n  (no scraper pods match app.kubernetes.io/name=scraper,app.kubernetes.io/instance=tpipe)')

    pod('scraper-a')
    answer('scraper-a', [target('10.0.1.5', true)])
    const before = fake.requests.length
    s = await clusterStatus({ kubeconfig, metrics: false, scrapers: false })
    expect(s.scrapers).toBeNull()
    expect(fake.requests.slice(before).some((q) => q.path.includes('/pods'))).toBe(false)
  })

  it('pods that cannot be listed (RBAC): a note, the rest of the status stands', async () => {
    install()
    scraperDeployment(2)
    fake.failNext({ method: 'GET', pathIncludes: `/namespaces/${NS}/pods` }, 403, { reason: 'Forbidden' })
    const s = await clusterStatus({ kubeconfig, metrics: false })
    expect(s.readers).toHaveLength(2)
    expect(s.scrapers?.problem).toBe('could not list the scraper pods: injected 403 Forbidden')
    expect(formatClusterStatus(s)).toContain('scrapers: 0 pods\n  note: could not list the scraper pods: injected 403 Forbidden')
  })
})

describe('podProxyGet', () => {
  it('bounded in bytes and time; the API server’s message on failure', async () => {
    const kc = fake.kubeConfig({ token: 'cli' })
    fake.setPodProxy(NS, 'p', 'big', { body: 'x'.repeat(10_000), contentType: 'text/plain' })
    fake.setPodProxy(NS, 'p', 'small', { body: 'ok', contentType: 'text/plain' })
    fake.setPodProxy(NS, 'p', 'slow', 'hang')
    expect(await podProxyGet(kc, NS, 'p', 8080, 'small', { timeoutMs: 1000, maxBytes: 100 })).toBe('ok')
    await expect(podProxyGet(kc, NS, 'p', 8080, 'big', { timeoutMs: 1000, maxBytes: 1000 })).rejects.toThrow('answer larger than 1000 bytes')
    await expect(podProxyGet(kc, NS, 'p', 8080, 'slow', { timeoutMs: 100, maxBytes: 100 })).rejects.toThrow('no answer within 100 ms')
    await expect(podProxyGet(kc, NS, 'q', 8080, 'small', { timeoutMs: 1000, maxBytes: 1000 })).rejects.toMatchObject({ status: 503, message: 'HTTP 503: no endpoints available' })
  })
})

describe('without a cluster', () => {
  it('no kubeconfig anywhere: says neither tpipe dev nor a cluster is there', async () => {
    const home = mkdtempSync(join(tmpdir(), 'tpipe-home-'))
    const env = { HOME: home }
    const err = await scaleOnCluster({ service: 'mqreader', replicas: 2, env }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ClusterUnavailableError)
    expect((err as Error).message).toMatch(/^no Kubernetes cluster is reachable: no kubeconfig/)
    // The CLI names both possibilities (these commands try a local `tpipe dev` first).
    expect(cliClusterError(err)).toMatchObject({ exit: 3, message: expect.stringMatching(/^no `tpipe dev` instance is running and no Kubernetes cluster is reachable: no kubeconfig/) })
    await expect(clusterStatus({ env })).rejects.toThrow(/no Kubernetes cluster is reachable/)
    await expect(clusterStatus({ kubeconfig: join(home, 'missing'), env })).rejects.toThrow(/kubeconfig .*missing does not exist/)
  })

  it('an unknown context is named with the known ones', async () => {
    await expect(clusterStatus({ kubeconfig, context: 'prod' })).rejects.toThrow(/no context "prod" \(known: kind-tpipe\)/)
  })

  it('connection refused: names the server and the context', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await freePort()
    const yaml = fake.kubeconfigYaml({ context: 'kind-gone' }).replace(fake.url, `http://127.0.0.1:${port}`)
    writeFileSync(kubeconfig, yaml)
    const err = await clusterStatus({ kubeconfig }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ClusterUnavailableError)
    expect((err as Error).message).toContain(`the API server at http://127.0.0.1:${port} (context kind-gone) does not answer`)
    await expect(scaleOnCluster({ kubeconfig, service: 'mqreader', replicas: 2 })).rejects.toThrow(ClusterUnavailableError)
  })
})

describe('parseGauge', () => {
  it('reads plain and labelled samples, not prefixes of other names', () => {
    expect(parseGauge('mqreader_buffer_utilization_max 9\nmqreader_buffer_utilization 0.3\n', 'mqreader_buffer_utilization')).toBe(0.3)
    expect(parseGauge('x 1\n', 'mqreader_buffer_utilization')).toBeNull()
  })
})
