// A Kubernetes API fake for tests: a real HTTP server on 127.0.0.1 that the real @kubernetes/client-node
// talks to through a KubeConfig pointing at it. No API server can run on the test machines, so this
// answers like one for the calls tpipe makes — and only those: Leases, StatefulSets (get/list/watch,
// merge patch, scale subresource), Deployments (scale), ConfigMaps (get/list/watch/create/replace),
// HPAs (get/list/patch), Pods (list), pod proxy (GET …/proxy/<path>). It enforces the contract the real server does
// where tpipe could get it wrong: resourceVersion conflicts (409), AlreadyExists (409), NotFound (404),
// patch content types (a JSON-patch body sent where a merge patch is meant is rejected), Lease times in
// MicroTime form. Every request is recorded (method, path, query, content-type, body, bearer token) so a
// test can assert what was — and was not — written.
import * as fs from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import * as path from 'node:path'
import type { AddressInfo, Socket } from 'node:net'
import { KubeConfig } from '@kubernetes/client-node'

export interface RecordedRequest {
  method: string
  path: string
  query: Record<string, string>
  contentType: string | undefined
  /** Parsed JSON body, or the raw text when it is not JSON; undefined without a body. */
  body: unknown
  /** The bearer token: tests give each client its own to tell who sent what. */
  token: string | undefined
  status: number
  at: number
}

/** A kind the fake serves: where it lives in the API. */
interface KindInfo {
  /** URL prefix before /namespaces/{ns}/{resource}. */
  prefix: string
  resource: string
  apiVersion: string
  kind: string
  listKind: string
}

export const KINDS = {
  lease: { prefix: '/apis/coordination.k8s.io/v1', resource: 'leases', apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', listKind: 'LeaseList' },
  statefulset: { prefix: '/apis/apps/v1', resource: 'statefulsets', apiVersion: 'apps/v1', kind: 'StatefulSet', listKind: 'StatefulSetList' },
  deployment: { prefix: '/apis/apps/v1', resource: 'deployments', apiVersion: 'apps/v1', kind: 'Deployment', listKind: 'DeploymentList' },
  configmap: { prefix: '/api/v1', resource: 'configmaps', apiVersion: 'v1', kind: 'ConfigMap', listKind: 'ConfigMapList' },
  hpa: {
    prefix: '/apis/autoscaling/v2',
    resource: 'horizontalpodautoscalers',
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    listKind: 'HorizontalPodAutoscalerList',
  },
  pod: { prefix: '/api/v1', resource: 'pods', apiVersion: 'v1', kind: 'Pod', listKind: 'PodList' },
} as const satisfies Record<string, KindInfo>
export type Kind = keyof typeof KINDS

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- objects are free-form JSON, like the API's
export type Obj = Record<string, any>

interface Stored {
  kind: Kind
  obj: Obj
}

interface WatchEvent {
  kind: Kind
  namespace: string
  rv: number
  type: 'ADDED' | 'MODIFIED' | 'DELETED'
  object: Obj
}

interface OpenWatch {
  kind: Kind
  namespace: string
  name: string | undefined
  res: ServerResponse
  token: string | undefined
}

interface Injection {
  method: string
  pathIncludes: string
  status: number
  reason: string
  times: number
}

/** A pod's answer through the pod proxy. */
export interface PodAnswer {
  body: string
  status?: number
  contentType?: string
  /** The only port the pod listens on (any port when unset). */
  port?: number
}

export interface KubeFake {
  readonly url: string
  readonly requests: RecordedRequest[]
  /** A KubeConfig for the real client; each token names a different caller in the recorded requests. */
  kubeConfig(opts?: { token?: string; namespace?: string }): KubeConfig
  /** The same as a kubeconfig YAML file text (for commands that take --kubeconfig). */
  kubeconfigYaml(opts?: { token?: string; namespace?: string; context?: string }): string
  /** Creates or replaces an object directly (bumps resourceVersion, notifies watches). */
  put(kind: Kind, obj: Obj): Obj
  get(kind: Kind, namespace: string, name: string): Obj | undefined
  delete(kind: Kind, namespace: string, name: string): void
  /** Sets spec.replicas of a StatefulSet/Deployment (what `kubectl scale` or the HPA does). */
  setReplicas(kind: 'statefulset' | 'deployment', namespace: string, name: string, replicas: number): void
  /** The next `times` requests matching method and path substring are answered with that status. */
  failNext(match: { method: string; pathIncludes: string }, status: number, opts?: { reason?: string; times?: number }): void
  /** Ends every open watch (of a kind): the server closed the stream, as real ones do. */
  endWatches(kind?: Kind): number
  /** Watches open now (of a kind). */
  openWatches(kind?: Kind): number
  /** Forget history so that a watch from an older resourceVersion gets 410 Gone. */
  compactHistory(): void
  /** The next `times` watches of a kind get one ERROR event with a 410 Status, then the stream ends. */
  goneNext(kind: Kind, times?: number): void
  /** Text served on GET /api/v1/namespaces/{ns}/pods/{pod}[:port]/proxy/metrics. */
  setPodMetrics(namespace: string, pod: string, text: string): void
  /**
   * What GET /api/v1/namespaces/{ns}/pods/{pod}[:port]/proxy/{path} answers: the pod's own answer, or
   * 'hang' (the pod accepts and never answers). With `port`, a request on another port gets the API
   * server's 503 "connection refused", as from a pod that does not listen there. Unset: 503, as the API
   * server answers for a pod it cannot reach.
   */
  setPodProxy(namespace: string, pod: string, path: string, answer: PodAnswer | 'hang'): void
  /** Recorded requests other than reads (GET) — what a follower must never send. */
  writesBy(token: string): RecordedRequest[]
  close(): Promise<void>
}

/**
 * Equality-based label selectors as the API server reads them (lists only): `a=b`, `a==b`, `a!=b`,
 * `a` (exists), `!a` (does not exist), comma-separated and all required. Undefined when malformed.
 */
export function parseLabelSelector(selector: string): ((labels: Record<string, string> | undefined) => boolean) | undefined {
  const reqs: ((l: Record<string, string>) => boolean)[] = []
  for (const part of selector.split(',').map((p) => p.trim())) {
    const m = /^(!?)([A-Za-z0-9][-A-Za-z0-9_./]*)(?:\s*(==|=|!=)\s*([-A-Za-z0-9_.]*))?$/.exec(part)
    if (!m) return undefined
    const [, not, key, op, value] = m as unknown as [string, string, string, string | undefined, string | undefined]
    if (not && op) return undefined
    if (!op) reqs.push(not ? (l) => !(key in l) : (l) => key in l)
    else if (op === '!=') reqs.push((l) => l[key] !== value)
    else reqs.push((l) => l[key] === value)
  }
  return (labels) => reqs.every((r) => r(labels ?? {}))
}

const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/

function status(code: number, reason: string, message: string): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch
  const out: Obj = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Obj) } : {}
  for (const [k, v] of Object.entries(patch as Obj)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

/** The subset of RFC 6902 JSON patch the client can send: add/replace/remove on object paths. */
function jsonPatch(target: Obj, ops: unknown[]): Obj {
  const out = structuredClone(target)
  for (const raw of ops) {
    const op = raw as { op?: string; path?: string; value?: unknown }
    if (!op || typeof op.path !== 'string' || !['add', 'replace', 'remove'].includes(op.op ?? '')) throw new Error(`unsupported JSON patch operation ${JSON.stringify(raw)}`)
    const parts = op.path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    let cur: Obj = out
    for (const p of parts.slice(0, -1)) {
      if (cur[p] === undefined || typeof cur[p] !== 'object') {
        if (op.op !== 'add') throw new Error(`path ${op.path} does not exist`)
        cur[p] = {}
      }
      cur = cur[p] as Obj
    }
    const last = parts[parts.length - 1]!
    if (op.op === 'remove') delete cur[last]
    else cur[last] = op.value
  }
  return out
}

export async function startKubeFake(opts: { namespace?: string } = {}): Promise<KubeFake> {
  const defaultNs = opts.namespace ?? 'default'
  const store = new Map<string, Stored>()
  const history: WatchEvent[] = []
  let compactedBefore = 0
  let rv = 1000
  const watches = new Set<OpenWatch>()
  const requests: RecordedRequest[] = []
  const injections: Injection[] = []
  const podAnswers = new Map<string, PodAnswer | 'hang'>()
  const gone = new Map<Kind, number>()
  const sockets = new Set<Socket>()

  const key = (kind: Kind, ns: string, name: string) => `${kind}/${ns}/${name}`

  function notify(kind: Kind, namespace: string, type: WatchEvent['type'], object: Obj): void {
    const ev: WatchEvent = { kind, namespace, rv: Number(object.metadata.resourceVersion), type, object: structuredClone(object) }
    history.push(ev)
    for (const w of watches) {
      if (w.kind === kind && w.namespace === namespace && (w.name === undefined || w.name === object.metadata.name)) {
        w.res.write(JSON.stringify({ type, object: ev.object }) + '\n')
      }
    }
  }

  function save(kind: Kind, obj: Obj, type: 'ADDED' | 'MODIFIED'): Obj {
    const info = KINDS[kind]
    const ns: string = obj.metadata.namespace ?? defaultNs
    const stored = structuredClone(obj)
    stored.apiVersion = info.apiVersion
    stored.kind = info.kind
    stored.metadata = { ...stored.metadata, namespace: ns, resourceVersion: String(++rv) }
    if (type === 'ADDED') {
      stored.metadata.uid ??= `uid-${rv}`
      stored.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    }
    if ((kind === 'statefulset' || kind === 'deployment') && stored.spec) {
      // The fake's "controller manager": every desired pod is instantly ready.
      stored.metadata.generation = (stored.metadata.generation ?? 0) + 1
      stored.status = { ...stored.status, replicas: stored.spec.replicas ?? 1, readyReplicas: stored.spec.replicas ?? 1, availableReplicas: stored.spec.replicas ?? 1 }
    }
    store.set(key(kind, ns, stored.metadata.name), { kind, obj: stored })
    notify(kind, ns, type, stored)
    return stored
  }

  const fake: KubeFake = {
    url: '',
    requests,
    kubeConfig({ token = 'test', namespace = defaultNs } = {}) {
      const kc = new KubeConfig()
      kc.loadFromString(fake.kubeconfigYaml({ token, namespace }))
      return kc
    },
    kubeconfigYaml({ token = 'test', namespace = defaultNs, context = 'fake' } = {}) {
      return [
        'apiVersion: v1',
        'kind: Config',
        `current-context: ${context}`,
        'clusters:',
        `- name: fake`,
        `  cluster: {server: "${fake.url}", insecure-skip-tls-verify: true}`,
        'users:',
        `- name: fake-user`,
        `  user: {token: "${token}"}`,
        'contexts:',
        `- name: ${context}`,
        `  context: {cluster: fake, user: fake-user, namespace: ${namespace}}`,
        '',
      ].join('\n')
    },
    put(kind, obj) {
      const ns = obj.metadata?.namespace ?? defaultNs
      const exists = store.has(key(kind, ns, obj.metadata.name))
      return save(kind, obj, exists ? 'MODIFIED' : 'ADDED')
    },
    get(kind, namespace, name) {
      const s = store.get(key(kind, namespace, name))
      return s ? structuredClone(s.obj) : undefined
    },
    delete(kind, namespace, name) {
      const s = store.get(key(kind, namespace, name))
      if (!s) return
      store.delete(key(kind, namespace, name))
      const obj = { ...s.obj, metadata: { ...s.obj.metadata, resourceVersion: String(++rv) } }
      notify(kind, namespace, 'DELETED', obj)
    },
    setReplicas(kind, namespace, name, replicas) {
      const cur = fake.get(kind, namespace, name)
      if (!cur) throw new Error(`no ${kind} ${namespace}/${name}`)
      cur.spec = { ...cur.spec, replicas }
      save(kind, cur, 'MODIFIED')
    },
    failNext(match, code, { reason = code === 409 ? 'Conflict' : 'InternalError', times = 1 } = {}) {
      injections.push({ ...match, status: code, reason, times })
    },
    endWatches(kind) {
      let n = 0
      for (const w of [...watches]) {
        if (kind && w.kind !== kind) continue
        watches.delete(w)
        w.res.end()
        n++
      }
      return n
    },
    openWatches(kind) {
      return [...watches].filter((w) => !kind || w.kind === kind).length
    },
    compactHistory() {
      compactedBefore = rv
      history.length = 0
    },
    goneNext(kind, times = 1) {
      gone.set(kind, (gone.get(kind) ?? 0) + times)
    },
    setPodMetrics(namespace, pod, text) {
      podAnswers.set(`${namespace}/${pod}/metrics`, { body: text, contentType: 'text/plain; version=0.0.4' })
    },
    setPodProxy(namespace, pod, path, answer) {
      podAnswers.set(`${namespace}/${pod}/${path}`, answer)
    },
    writesBy(token) {
      return requests.filter((r) => r.token === token && r.method !== 'GET')
    },
    close: async () => {
      fake.endWatches()
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }

  function send(res: ServerResponse, code: number, body: unknown, rec: RecordedRequest): void {
    rec.status = code
    res.writeHead(code, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify(body))
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }

  function validate(kind: Kind, obj: Obj): string | undefined {
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return 'the body must be a JSON object'
    if (!obj.metadata?.name) return 'metadata.name: Required value'
    if (kind === 'lease') {
      for (const f of ['acquireTime', 'renewTime']) {
        const v = obj.spec?.[f]
        if (v !== undefined && v !== null && (typeof v !== 'string' || !MICRO_TIME.test(v))) {
          return `Lease in version "v1" cannot be handled as a Lease: spec.${f}: parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse`
        }
      }
    }
    if (kind === 'configmap' && obj.data !== undefined) {
      for (const v of Object.values(obj.data as Obj)) if (typeof v !== 'string') return 'ConfigMap data values must be strings'
    }
    return undefined
  }

  function toScale(obj: Obj): Obj {
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace, resourceVersion: obj.metadata.resourceVersion },
      spec: { replicas: obj.spec?.replicas ?? 1 },
      status: { replicas: obj.status?.replicas ?? 0, selector: `app.kubernetes.io/name=${obj.metadata.name}` },
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://fake')
    const text = await readBody(req)
    let body: unknown = undefined
    if (text !== '') {
      try {
        body = JSON.parse(text)
      } catch {
        body = text
      }
    }
    const auth = req.headers.authorization
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      contentType: req.headers['content-type']?.split(';')[0]?.trim(),
      body,
      token: auth?.startsWith('Bearer ') ? auth.slice(7) : undefined,
      status: 0,
      at: Date.now(),
    }
    requests.push(rec)

    const inj = injections.find((i) => i.method === rec.method && rec.path.includes(i.pathIncludes) && i.times > 0)
    if (inj) {
      inj.times--
      if (inj.times === 0) injections.splice(injections.indexOf(inj), 1)
      return send(res, inj.status, status(inj.status, inj.reason, `injected ${inj.status} ${inj.reason}`), rec)
    }

    // /api/v1/namespaces/{ns}/pods/{pod}[:port]/proxy/{path}
    const proxy = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/:]+)(?::([^/]+))?\/proxy\/(.*)$/.exec(decodeURIComponent(rec.path))
    if (proxy) {
      const a = podAnswers.get(`${proxy[1]}/${proxy[2]}/${proxy[4]}`)
      if (a === undefined || rec.method !== 'GET') return send(res, 503, status(503, 'ServiceUnavailable', 'no endpoints available'), rec)
      if (a === 'hang') return // the socket stays open until the client gives up (or close())
      if (a.port !== undefined && proxy[3] !== String(a.port)) {
        return send(res, 503, status(503, 'ServiceUnavailable', `error trying to reach service: dial tcp 10.244.0.9:${proxy[3] ?? 80}: connect: connection refused`), rec)
      }
      rec.status = a.status ?? 200
      res.writeHead(rec.status, { 'Content-Type': a.contentType ?? 'application/json' })
      res.end(a.body)
      return
    }

    // A list across every namespace (GET /apis/apps/v1/statefulsets?labelSelector=…), as `tpipe status`
    // uses to find where tpipe is installed.
    for (const [k, info] of Object.entries(KINDS) as [Kind, KindInfo][]) {
      if (rec.method !== 'GET' || rec.path !== `${info.prefix}/${info.resource}` || rec.query.watch) continue
      const sel = rec.query.labelSelector ? parseLabelSelector(rec.query.labelSelector) : () => true
      if (!sel) return send(res, 400, status(400, 'BadRequest', `unable to parse requirement: ${rec.query.labelSelector}`), rec)
      const items = [...store.values()].filter((x) => x.kind === k && sel(x.obj.metadata.labels)).map((x) => x.obj)
      return send(res, 200, { kind: info.listKind, apiVersion: info.apiVersion, metadata: { resourceVersion: String(rv) }, items }, rec)
    }

    let kind: Kind | undefined
    let ns = ''
    let name: string | undefined
    let sub: string | undefined
    for (const [k, info] of Object.entries(KINDS) as [Kind, KindInfo][]) {
      const re = new RegExp(`^${info.prefix.replace(/\./g, '\\.')}/namespaces/([^/]+)/${info.resource}(?:/([^/]+))?(?:/([^/]+))?$`)
      const m = re.exec(rec.path)
      if (m) {
        kind = k
        ns = m[1]!
        name = m[2]
        sub = m[3]
        break
      }
    }
    if (!kind) return send(res, 404, status(404, 'NotFound', `the server could not find the requested resource (${rec.method} ${rec.path})`), rec)
    const info = KINDS[kind]
    if (sub !== undefined && !(sub === 'scale' && (kind === 'statefulset' || kind === 'deployment'))) {
      return send(res, 404, status(404, 'NotFound', `the server could not find the requested resource`), rec)
    }
    const notFound = () => send(res, 404, status(404, 'NotFound', `${info.resource}.${info.apiVersion.split('/')[0]} "${name}" not found`), rec)

    if (rec.method === 'GET' && name === undefined) {
      // list or watch; fieldSelector metadata.name=… is the only field selector supported (and the only one
      // used); lists also take equality-based labelSelectors (the scraper's pod discovery)
      const fs = rec.query.fieldSelector
      let only: string | undefined
      if (fs) {
        const m = /^metadata\.name=([^,]+)$/.exec(fs)
        if (!m) return send(res, 400, status(400, 'BadRequest', `unsupported fieldSelector ${fs}`), rec)
        only = m[1]
      }
      if (rec.query.watch === 'true' || rec.query.watch === '1') {
        const from = rec.query.resourceVersion ? Number(rec.query.resourceVersion) : undefined
        const forcedGone = (gone.get(kind) ?? 0) > 0
        if (forcedGone) gone.set(kind, gone.get(kind)! - 1)
        if (forcedGone || (from !== undefined && from < compactedBefore)) {
          // The real server answers 200 and sends one ERROR event with a 410 Status.
          rec.status = 200
          res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' })
          res.end(JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${from} (${compactedBefore})`) }) + '\n')
          return
        }
        rec.status = 200
        res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' })
        res.flushHeaders()
        const w: OpenWatch = { kind, namespace: ns, name: only, res, token: rec.token }
        if (from !== undefined) {
          for (const ev of history) {
            if (ev.kind === kind && ev.namespace === ns && ev.rv > from && (only === undefined || ev.object.metadata.name === only)) {
              res.write(JSON.stringify({ type: ev.type, object: ev.object }) + '\n')
            }
          }
        } else {
          for (const s of store.values()) {
            if (s.kind === kind && s.obj.metadata.namespace === ns && (only === undefined || s.obj.metadata.name === only)) {
              res.write(JSON.stringify({ type: 'ADDED', object: s.obj }) + '\n')
            }
          }
        }
        watches.add(w)
        const drop = () => watches.delete(w)
        res.on('close', drop)
        req.on('close', drop)
        return
      }
      let selects: (labels: Record<string, string> | undefined) => boolean = () => true
      if (rec.query.labelSelector) {
        const sel = parseLabelSelector(rec.query.labelSelector)
        if (!sel) return send(res, 400, status(400, 'BadRequest', `unable to parse requirement: ${rec.query.labelSelector}`), rec)
        selects = sel
      }
      const items = [...store.values()]
        .filter((s) => s.kind === kind && s.obj.metadata.namespace === ns && (only === undefined || s.obj.metadata.name === only) && selects(s.obj.metadata.labels))
        .map((s) => s.obj)
      return send(res, 200, { kind: info.listKind, apiVersion: info.apiVersion, metadata: { resourceVersion: String(rv) }, items }, rec)
    }

    if (name === undefined) {
      if (rec.method !== 'POST') return send(res, 405, status(405, 'MethodNotAllowed', 'method not allowed'), rec)
      const obj = body as Obj
      const bad = validate(kind, obj)
      if (bad) return send(res, 400, status(400, 'BadRequest', bad), rec)
      if (obj.metadata.namespace && obj.metadata.namespace !== ns) return send(res, 400, status(400, 'BadRequest', 'the namespace of the object does not match the namespace on the request'), rec)
      if (obj.metadata.resourceVersion) return send(res, 400, status(400, 'BadRequest', 'resourceVersion should not be set on objects to be created'), rec)
      if (store.has(key(kind, ns, obj.metadata.name))) {
        return send(res, 409, status(409, 'AlreadyExists', `${info.resource} "${obj.metadata.name}" already exists`), rec)
      }
      return send(res, 201, save(kind, { ...obj, metadata: { ...obj.metadata, namespace: ns } }, 'ADDED'), rec)
    }

    const cur = store.get(key(kind, ns, name))
    if (rec.method === 'GET') {
      if (!cur) return notFound()
      return send(res, 200, sub === 'scale' ? toScale(cur.obj) : cur.obj, rec)
    }

    if (rec.method === 'PUT') {
      if (!cur) return notFound()
      const obj = body as Obj
      const bad = validate(kind, sub === 'scale' ? { ...obj, metadata: { name } } : obj)
      if (bad) return send(res, 400, status(400, 'BadRequest', bad), rec)
      if (obj.metadata.name !== name) return send(res, 400, status(400, 'BadRequest', 'the name of the object does not match the name on the URL'), rec)
      const sentRv = obj.metadata.resourceVersion
      if (sentRv !== undefined && sentRv !== cur.obj.metadata.resourceVersion) {
        return send(
          res,
          409,
          status(409, 'Conflict', `Operation cannot be fulfilled on ${info.resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`),
          rec,
        )
      }
      if (sub === 'scale') {
        const next = { ...cur.obj, spec: { ...cur.obj.spec, replicas: obj.spec?.replicas } }
        return send(res, 200, toScale(save(kind, next, 'MODIFIED')), rec)
      }
      const next = { ...obj, metadata: { ...cur.obj.metadata, ...obj.metadata, namespace: ns } }
      return send(res, 200, save(kind, next, 'MODIFIED'), rec)
    }

    if (rec.method === 'PATCH') {
      if (!cur) return notFound()
      let patched: Obj
      const base = sub === 'scale' ? toScale(cur.obj) : cur.obj
      try {
        switch (rec.contentType) {
          case 'application/merge-patch+json':
          case 'application/strategic-merge-patch+json':
            if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('a merge patch must be a JSON object')
            patched = mergePatch(base, body) as Obj
            break
          case 'application/json-patch+json':
            // What the real server says when a merge-patch object is sent with the client's default type.
            if (!Array.isArray(body)) throw new Error('json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp')
            patched = jsonPatch(base, body)
            break
          default:
            return send(res, 415, status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`), rec)
        }
      } catch (err) {
        return send(res, 400, status(400, 'BadRequest', (err as Error).message), rec)
      }
      const sentRv = (body as Obj)?.metadata?.resourceVersion
      if (sentRv !== undefined && sentRv !== cur.obj.metadata.resourceVersion) {
        return send(res, 409, status(409, 'Conflict', `Operation cannot be fulfilled on ${info.resource} "${name}": the object has been modified`), rec)
      }
      if (sub === 'scale') {
        const replicas = patched.spec?.replicas
        if (typeof replicas !== 'number' || replicas < 0) return send(res, 422, status(422, 'Invalid', 'spec.replicas: Invalid value: must be greater than or equal to 0'), rec)
        const next = { ...cur.obj, spec: { ...cur.obj.spec, replicas } }
        return send(res, 200, toScale(save(kind, next, 'MODIFIED')), rec)
      }
      const bad = validate(kind, patched)
      if (bad) return send(res, 422, status(422, 'Invalid', bad), rec)
      if (kind === 'hpa') {
        const s = patched.spec ?? {}
        if (typeof s.minReplicas === 'number' && s.minReplicas < 1) return send(res, 422, status(422, 'Invalid', 'spec.minReplicas: Invalid value: must be greater than or equal to 1'), rec)
        if (s.minReplicas > s.maxReplicas) return send(res, 422, status(422, 'Invalid', 'spec.maxReplicas: Invalid value: must be greater than or equal to `minReplicas`'), rec)
      }
      patched.metadata = { ...cur.obj.metadata, ...patched.metadata, name, namespace: ns }
      return send(res, 200, save(kind, patched, 'MODIFIED'), rec)
    }

    if (rec.method === 'DELETE') {
      if (!cur) return notFound()
      fake.delete(kind, ns, name)
      return send(res, 200, status(200, '', 'deleted'), rec)
    }
    return send(res, 405, status(405, 'MethodNotAllowed', 'method not allowed'), rec)
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'application/json' })
        res.end(JSON.stringify(status(500, 'InternalError', String(err))))
      }
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  ;(fake as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return fake
}

/**
 * Writes files into a directory the way the kubelet updates a mounted ConfigMap (its AtomicWriter):
 * the data goes into a fresh `..<timestamp>` directory, a `..data_tmp` symlink to it is renamed over
 * `..data` (the one atomic step), each visible file is a symlink `name -> ..data/name` (made once), and
 * the previous timestamped directory is removed. A watch on the file itself misses this; a watch on the
 * directory sees it.
 */
export function kubeletAtomicWrite(dir: string, files: Record<string, string | Buffer>): void {
  const { mkdirSync, writeFileSync, symlinkSync, renameSync, readlinkSync, rmSync, existsSync, lstatSync } = fs
  const { join } = path
  mkdirSync(dir, { recursive: true })
  const stamp = `..${new Date().toISOString().replace(/[-:.TZ]/g, '_')}${process.hrtime.bigint()}`
  const target = join(dir, stamp)
  mkdirSync(target)
  for (const [name, text] of Object.entries(files)) writeFileSync(join(target, name), text)
  const dataLink = join(dir, '..data')
  const previous = existsSync(dataLink) ? readlinkSync(dataLink) : undefined
  const tmp = join(dir, '..data_tmp')
  rmSync(tmp, { force: true })
  symlinkSync(stamp, tmp)
  renameSync(tmp, dataLink)
  for (const name of Object.keys(files)) {
    const visible = join(dir, name)
    let isLink = false
    try {
      isLink = lstatSync(visible).isSymbolicLink()
    } catch {
      isLink = false
    }
    if (!isLink) symlinkSync(join('..data', name), visible)
  }
  if (previous && previous !== stamp) rmSync(join(dir, previous), { recursive: true, force: true })
}
