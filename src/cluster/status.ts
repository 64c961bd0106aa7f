// `tpipe status` on a cluster: replicas of each workload (and the HPA bounds), the partition-controller's
// leader (Lease holderIdentity) and assignment generation, each reader's partitions from the assignment
// ConfigMap, with its buffer utilization when its /metrics answers through the API server's pod proxy
// (optional: a reader that does not answer shows "-"), and, when the scraper is installed, each scraper
// pod's targets and their health from its GET /v1/targets through the same proxy (a pod that does not
// answer is shown as such). Read-only; no pod read can fail the whole status.
import { AppsV1Api, CoordinationV1Api, CoreV1Api, type V1Lease, type V1ConfigMap, type V1LabelSelector, type V1Pod } from '@kubernetes/client-node'
import { ASSIGNMENT_KEY, parseAssignmentDoc, type AssignmentDoc } from '../protocol/assignment.js'
import { isTargetsView, summarizeTargets, type TargetHealth } from '../protocol/targets.js'
import { parsePartitions, replicaNames } from '../partitions/index.js'
import { apiMessage, connectCluster, explainClusterError, isNotFound, podProxyGet, PodProxyError, type ClusterAccess } from '../kube/index.js'
import { locateInstall } from './locate.js'
import { SCALABLE_SERVICES, WORKLOAD_KINDS, findHpa, objectName, type ClusterTarget, type HpaInfo, type ScalableService } from './scale.js'

export interface StatusOptions extends ClusterTarget {
  /** Assignment ConfigMap and Lease names before the prefix (the controller's defaults). */
  configMap?: string
  leaseName?: string
  /** Read each reader's buffer utilization through the pod proxy (default true). */
  metrics?: boolean
  /** Port of the readers' HTTP server (TPIPE_PORT in the chart). */
  readerPort?: number
  /** Upper bound per pod for the metrics and targets reads. */
  metricsTimeoutMs?: number
  /** Read each scraper pod's targets through the pod proxy (default true; nothing is read when the scraper is not installed). */
  scrapers?: boolean
}

/** Bodies read through the pod proxy larger than this are refused (a scraper of ~10,000 targets fits). */
const PROXY_MAX_BYTES = 4 * 1024 * 1024
/** The scraper chart's container port (named "http") when a pod does not declare one. */
const SCRAPER_DEFAULT_PORT = 8080

export interface WorkloadStatus {
  service: ScalableService
  kind: 'Deployment' | 'StatefulSet'
  name: string
  /** null: the workload does not exist in this namespace. */
  desired: number | null
  ready: number | null
  hpa: HpaInfo | null
}

export interface ReaderStatus {
  name: string
  /** Range text from the ConfigMap ("0-63"), or null when the reader has no entry. */
  partitions: string | null
  partitionCount: number
  /** 0..1 from mqreader_buffer_utilization, or null when not reachable. */
  bufferUtilization: number | null
}

/** One scraper pod and what its GET /v1/targets said. */
export interface ScraperPodStatus {
  pod: string
  /** The pod's phase (Running, Pending…), or Terminating while it is being deleted. */
  phase: string
  ready: boolean
  /** The port its /v1/targets was (or would be) read on: the container port named "http". */
  port: number
  /** Why its targets are unknown (not running, the proxy's or the pod's error, no answer in time); null when read. */
  error: string | null
  /** Its shard identity and the members it shares the targets with (from its answer). */
  identity: string | null
  members: string[]
  /** Targets its discovery found before sharding; null when not read. */
  discovered: number | null
  /** Counts over its targets; null when not read. */
  counts: { targets: number; up: number; down: number; pending: number; samples: number } | null
  /** Every target it scrapes with its health (empty when not read). */
  targets: TargetHealth[]
}

export interface ScrapersStatus {
  /** The label selector of the scraper Deployment its pods were listed by. */
  selector: string
  pods: ScraperPodStatus[]
  /** Why the pods could not be listed (e.g. RBAC); the status is shown without them. */
  problem?: string
}

export interface ClusterStatus {
  backend: 'cluster'
  context: string | undefined
  namespace: string
  server: string
  workloads: WorkloadStatus[]
  controller: {
    lease: string
    /** holderIdentity of the Lease; null when there is no Lease or it was released. */
    leader: string | null
    renewTime: string | null
    leaseTransitions: number | null
    configMap: string
    /** null when the ConfigMap is missing or unreadable. */
    generation: number | null
    replicas: number | null
    problem?: string
  }
  readers: ReaderStatus[]
  /** null: the scraper is not installed (it is off by default) or --no-scraper-targets. */
  scrapers: ScrapersStatus | null
}

export async function clusterStatus(opts: StatusOptions = {}): Promise<ClusterStatus> {
  let access = connectCluster(opts, opts.env)
  try {
    access = await locateInstall(access)
    return await status(access, opts)
  } catch (err) {
    throw explainClusterError(err, access)
  }
}

async function status(access: ClusterAccess, opts: StatusOptions): Promise<ClusterStatus> {
  const { namespace } = access
  const apps = access.kubeConfig.makeApiClient(AppsV1Api)
  const core = access.kubeConfig.makeApiClient(CoreV1Api)
  const coord = access.kubeConfig.makeApiClient(CoordinationV1Api)

  // The first call doubles as the reachability check: a transport error ends here with a clear message.
  const workloads: WorkloadStatus[] = []
  let scraperSelector: V1LabelSelector | undefined
  for (const service of SCALABLE_SERVICES) {
    const kind = WORKLOAD_KINDS[service]
    const name = objectName(service, opts.namePrefix)
    let desired: number | null = null
    let ready: number | null = null
    try {
      const w = kind === 'StatefulSet' ? await apps.readNamespacedStatefulSet({ name, namespace }) : await apps.readNamespacedDeployment({ name, namespace })
      desired = w.spec?.replicas ?? 1
      ready = w.status?.readyReplicas ?? 0
      if (service === 'scraper') scraperSelector = w.spec?.selector
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
    const hpa = desired === null ? null : await findHpa(access, kind, name)
    workloads.push({ service, kind, name, desired, ready, hpa: hpa === 'unknown' ? null : hpa })
  }

  const leaseName = objectName(opts.leaseName ?? 'partition-controller', opts.namePrefix)
  const configMapName = objectName(opts.configMap ?? 'mqreader-partitions', opts.namePrefix)
  let lease: V1Lease | undefined
  try {
    lease = await coord.readNamespacedLease({ name: leaseName, namespace })
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
  let cm: V1ConfigMap | undefined
  try {
    cm = await core.readNamespacedConfigMap({ name: configMapName, namespace })
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
  let doc: AssignmentDoc | undefined
  let problem: string | undefined
  const text = cm?.data?.[ASSIGNMENT_KEY]
  if (!cm) problem = `ConfigMap ${configMapName} does not exist yet (is the partition-controller running?)`
  else if (text === undefined) problem = `ConfigMap ${configMapName} has no ${ASSIGNMENT_KEY}`
  else {
    try {
      doc = parseAssignmentDoc(text)
    } catch (err) {
      problem = (err as Error).message
    }
  }

  const readerWorkload = workloads.find((w) => w.service === 'mqreader')!
  const names = new Set<string>(replicaNames(readerWorkload.name, readerWorkload.desired ?? 0))
  for (const n of Object.keys(doc?.assignments ?? {})) names.add(n)
  const sorted = [...names].sort((a, b) => ordinal(a) - ordinal(b) || a.localeCompare(b))
  const timeoutMs = opts.metricsTimeoutMs ?? 2000
  const readers = await Promise.all(
    sorted.map(async (name): Promise<ReaderStatus> => {
      const spec = doc?.assignments[name]
      const partitions = spec ?? null
      return {
        name,
        partitions,
        partitionCount: spec ? parsePartitions(spec).length : 0,
        bufferUtilization: opts.metrics === false ? null : await readerUtilization(access, name, opts.readerPort ?? 8080, timeoutMs),
      }
    }),
  )
  const scrapers = opts.scrapers === false || !scraperSelector ? null : await scraperStatus(access, core, scraperSelector, timeoutMs)

  const holder = lease?.spec?.holderIdentity
  return {
    backend: 'cluster',
    context: access.context,
    namespace,
    server: access.server,
    workloads,
    controller: {
      lease: leaseName,
      leader: holder ? holder : null,
      renewTime: lease?.spec?.renewTime ? String(lease.spec.renewTime) : null,
      leaseTransitions: lease?.spec?.leaseTransitions ?? null,
      configMap: configMapName,
      generation: doc?.generation ?? null,
      replicas: doc?.replicas ?? null,
      ...(problem ? { problem } : {}),
    },
    readers,
    scrapers,
  }
}

function ordinal(name: string): number {
  const m = /-(\d+)$/.exec(name)
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER
}

/** mqreader_buffer_utilization from the pod's /metrics through the API server's pod proxy; null on any failure. */
async function readerUtilization(access: ClusterAccess, pod: string, port: number, timeoutMs: number): Promise<number | null> {
  try {
    const text = await podProxyGet(access.kubeConfig, access.namespace, pod, port, 'metrics', { timeoutMs, maxBytes: PROXY_MAX_BYTES })
    return parseGauge(text, 'mqreader_buffer_utilization')
  } catch {
    return null
  }
}

/** The scraper Deployment's pods (by its own selector) and each one's GET /v1/targets, read concurrently. */
async function scraperStatus(access: ClusterAccess, core: CoreV1Api, sel: V1LabelSelector, timeoutMs: number): Promise<ScrapersStatus> {
  const selector = Object.entries(sel.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
  let pods: V1Pod[]
  try {
    pods = (await core.listNamespacedPod({ namespace: access.namespace, labelSelector: selector })).items
  } catch (err) {
    return { selector, pods: [], problem: `could not list the scraper pods: ${apiMessage(err)}` }
  }
  pods.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))
  return { selector, pods: await Promise.all(pods.map((p) => scraperPod(access, p, timeoutMs))) }
}

async function scraperPod(access: ClusterAccess, p: V1Pod, timeoutMs: number): Promise<ScraperPodStatus> {
  const pod = p.metadata?.name ?? '?'
  const phase = p.metadata?.deletionTimestamp ? 'Terminating' : (p.status?.phase ?? 'Unknown')
  const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false
  const ports = (p.spec?.containers ?? []).flatMap((c) => c.ports ?? [])
  const port = (ports.find((x) => x.name === 'http') ?? ports[0])?.containerPort ?? SCRAPER_DEFAULT_PORT
  const base: ScraperPodStatus = { pod, phase, ready, port, error: null, identity: null, members: [], discovered: null, counts: null, targets: [] }
  if (p.status?.phase !== 'Running') return { ...base, error: `pod is ${phase}` }
  try {
    const body = await podProxyGet(access.kubeConfig, access.namespace, pod, port, 'v1/targets', { timeoutMs, maxBytes: PROXY_MAX_BYTES })
    let view: unknown
    try {
      view = JSON.parse(body)
    } catch {
      view = undefined
    }
    if (!isTargetsView(view)) return { ...base, error: 'its /v1/targets did not answer with a target list' }
    const { failing: _, ...counts } = summarizeTargets(view.targets)
    return { ...base, identity: view.identity, members: view.members, discovered: view.discovered, counts, targets: view.targets }
  } catch (err) {
    // The API server's 502/503 (it could not reach the pod), a timeout or a transport error: no answer.
    const status = err instanceof PodProxyError ? err.status : undefined
    const reached = status !== undefined && status !== 502 && status !== 503
    return { ...base, error: `${reached ? '/v1/targets answered' : 'not answering:'} ${(err as Error).message}` }
  }
}

/** The value of an unlabelled (or first labelled) sample of a gauge in Prometheus text; null if absent. */
export function parseGauge(text: string, name: string): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line)
    if (!m || m[1] !== name) continue
    const v = Number(m[3])
    if (Number.isFinite(v)) return v
  }
  return null
}

const pct = (v: number | null) => (v === null ? '-' : `${Math.round(v * 100)}%`)

export function formatClusterStatus(s: ClusterStatus, now = Date.now()): string {
  const out: string[] = [`cluster ${s.context ?? '(in-cluster)'} · namespace ${s.namespace} · ${s.server}`, '', 'WORKLOAD                 KIND         READY/DESIRED  AUTOSCALING']
  for (const w of s.workloads) {
    const rd = w.desired === null ? 'not installed' : `${w.ready}/${w.desired}`
    const hpa = w.hpa ? `HPA ${w.hpa.name} ${w.hpa.minReplicas}..${w.hpa.maxReplicas}` : '-'
    out.push(`${w.name.padEnd(24)} ${w.kind.padEnd(12)} ${rd.padEnd(14)} ${hpa}`)
  }
  const c = s.controller
  out.push('', `partition-controller: leader ${c.leader ?? '(none)'}${c.renewTime ? ` (renewed ${c.renewTime})` : ''}, generation ${c.generation ?? '-'}${c.replicas !== null ? ` for ${c.replicas} readers` : ''}`)
  if (c.problem) out.push(`  note: ${c.problem}`)
  out.push('', 'READER                   PARTITIONS     COUNT  BUFFER')
  for (const r of s.readers) out.push(`${r.name.padEnd(24)} ${(r.partitions ?? '(none)').padEnd(14)} ${String(r.partitionCount).padStart(5)}  ${pct(r.bufferUtilization)}`)
  if (s.readers.length === 0) out.push('(no readers)')
  if (s.scrapers) out.push('', ...formatScrapers(s.scrapers, now))
  return out.join('\n')
}

/** Failing targets listed per scraper pod in the text view; --json carries them all. */
const MAX_FAILING_SHOWN = 5

const clip = (t: string) => (t.length > 160 ? `${t.slice(0, 159)}…` : t).replace(/\s+/g, ' ')
const n0 = (v: number) => Math.round(v).toLocaleString('en-US')

/** "4s ago", "3m ago"… of an RFC 3339 time; "-" for none. */
function ago(iso: string | null, now: number): string {
  const t = iso === null ? NaN : Date.parse(iso)
  if (!Number.isFinite(t)) return '-'
  const s = Math.max(0, Math.round((now - t) / 1000))
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`
}

/** The scraper pods' table (the columns of `tpipe dev`'s view) and, under each pod, its failing targets. */
function formatScrapers(sc: ScrapersStatus, now: number): string[] {
  const read = sc.pods.filter((p) => p.counts)
  const total = read.reduce((a, p) => a + p.counts!.targets, 0)
  const discovered = read.length ? Math.max(...read.map((p) => p.discovered ?? 0)) : null
  const out = [
    `scrapers: ${sc.pods.length} pod${sc.pods.length === 1 ? '' : 's'}` +
      (read.length ? `, ${n0(total)} targets scraped (${n0(read.reduce((a, p) => a + p.counts!.up, 0))} up, ${n0(read.reduce((a, p) => a + p.counts!.down, 0))} down) of ${n0(discovered!)} discovered` : ''),
  ]
  if (sc.problem) out.push(`  note: ${sc.problem}`)
  if (sc.pods.length === 0) {
    if (!sc.problem) out.push(`  (no scraper pods match ${sc.selector})`)
    return out
  }
  out.push('SCRAPER                        TARGETS     UP   DOWN  SAMPLES/SCRAPE  LAST SCRAPE  NOTE')
  for (const p of sc.pods) {
    const c = p.counts
    const last = p.targets.reduce<string | null>((a, t) => (t.last_scrape !== null && (a === null || t.last_scrape > a) ? t.last_scrape : a), null)
    const note = p.error ?? [c && c.pending ? `${c.pending} not scraped yet` : '', p.ready ? '' : 'not ready'].filter(Boolean).join(', ')
    const cell = (v: number | undefined, w: number) => (v === undefined ? '-' : n0(v)).padStart(w)
    out.push(`${p.pod.padEnd(30)} ${cell(c?.targets, 7)} ${cell(c?.up, 6)} ${cell(c?.down, 6)}  ${cell(c?.samples, 14)}  ${(c ? ago(last, now) : '-').padEnd(11)}  ${note}`.trimEnd())
    const failing = p.targets.filter((t) => t.up === false)
    for (const t of failing.slice(0, MAX_FAILING_SHOWN)) out.push(`  down ${t.url}: ${clip(t.last_error ?? 'failed')} (${t.errors} of ${t.scrapes} scrapes failed)`)
    if (failing.length > MAX_FAILING_SHOWN) out.push(`  … and ${failing.length - MAX_FAILING_SHOWN} more down (--json lists every target)`)
  }
  return out
}
