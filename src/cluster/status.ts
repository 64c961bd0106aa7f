// `tpipe status` on a cluster: replicas of each workload (and the HPA bounds), the partition-controller's
// leader (Lease holderIdentity) and assignment generation, and each reader's partitions from the
// assignment ConfigMap, with its buffer utilization when its /metrics answers through the API server's
// pod proxy (optional: a reader that does not answer shows "-"). Read-only.
import { AppsV1Api, CoordinationV1Api, CoreV1Api, type V1Lease, type V1ConfigMap } from '@kubernetes/client-node'
import { ASSIGNMENT_KEY, parseAssignmentDoc, type AssignmentDoc } from '../protocol/assignment.js'
import { parsePartitions, replicaNames } from '../partitions/index.js'
import { connectCluster, explainClusterError, locateInstall, isNotFound, type ClusterAccess } from './kube.js'
import { SCALABLE_SERVICES, WORKLOAD_KINDS, findHpa, objectName, type ClusterTarget, type HpaInfo, type ScalableService } from './scale.js'

export interface StatusOptions extends ClusterTarget {
  /** Assignment ConfigMap and Lease names before the prefix (the controller's defaults). */
  configMap?: string
  leaseName?: string
  /** Read each reader's buffer utilization through the pod proxy (default true). */
  metrics?: boolean
  /** Port of the readers' HTTP server (TPIPE_PORT in the chart). */
  readerPort?: number
  /** Upper bound per pod for the metrics read. */
  metricsTimeoutMs?: number
}

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
  for (const service of SCALABLE_SERVICES) {
    const kind = WORKLOAD_KINDS[service]
    const name = objectName(service, opts.namePrefix)
    let desired: number | null = null
    let ready: number | null = null
    try {
      const w = kind === 'StatefulSet' ? await apps.readNamespacedStatefulSet({ name, namespace }) : await apps.readNamespacedDeployment({ name, namespace })
      desired = w.spec?.replicas ?? 1
      ready = w.status?.readyReplicas ?? 0
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
  const readers = await Promise.all(
    sorted.map(async (name): Promise<ReaderStatus> => {
      const spec = doc?.assignments[name]
      const partitions = spec ?? null
      return {
        name,
        partitions,
        partitionCount: spec ? parsePartitions(spec).length : 0,
        bufferUtilization: opts.metrics === false ? null : await readerUtilization(core, namespace, name, opts.readerPort ?? 8080, opts.metricsTimeoutMs ?? 2000),
      }
    }),
  )

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
  }
}

function ordinal(name: string): number {
  const m = /-(\d+)$/.exec(name)
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER
}

/** mqreader_buffer_utilization from the pod's /metrics through the API server's pod proxy; null on any failure. */
async function readerUtilization(core: CoreV1Api, namespace: string, pod: string, port: number, timeoutMs: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined
  try {
    const text = await Promise.race([
      core.connectGetNamespacedPodProxyWithPath({ name: `${pod}:${port}`, namespace, path: 'metrics' }),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), timeoutMs))),
    ])
    return parseGauge(String(text), 'mqreader_buffer_utilization')
  } catch {
    return null
  } finally {
    clearTimeout(timer)
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

export function formatClusterStatus(s: ClusterStatus): string {
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
  return out.join('\n')
}
