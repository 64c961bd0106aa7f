// `tpipe scale <service> <n>` on a cluster: patches the scale subresource of the service's workload
// (mqreader is a StatefulSet, the others Deployments) with a merge patch. When an HPA targets the
// workload it would undo a plain scale on its next sync, so the user is told, and with --pin the HPA's
// minReplicas and maxReplicas are set to n first so the change sticks.
import { AppsV1Api, AutoscalingV2Api, type V2HorizontalPodAutoscaler } from '@kubernetes/client-node'
import { apiStatus, connectCluster, explainClusterError, isNotFound, mergePatchOptions, type ClusterAccess, type ClusterOptions } from '../kube/index.js'
import { locateInstall } from './locate.js'

export const WORKLOAD_KINDS = {
  mqwriter: 'Deployment',
  mqreader: 'StatefulSet',
  streamer: 'Deployment',
  collector: 'Deployment',
  apigw: 'Deployment',
  // Off by default (scraper.enabled); replicas share the dcgm-exporter targets by rendezvous hash over
  // the ready scraper pods, so scaling moves only the targets it must.
  scraper: 'Deployment',
} as const
export type ScalableService = keyof typeof WORKLOAD_KINDS
export const SCALABLE_SERVICES = Object.keys(WORKLOAD_KINDS) as ScalableService[]

export interface ClusterTarget extends ClusterOptions {
  /** Prefix of the object names when the release names them `<prefix>-mqreader` etc. */
  namePrefix?: string | undefined
  env?: NodeJS.ProcessEnv
}

export interface ScaleOptions extends ClusterTarget {
  service: string
  replicas: number
  /** Set the managing HPA's minReplicas = maxReplicas = replicas. */
  pin?: boolean
}

export interface HpaInfo {
  name: string
  minReplicas: number
  maxReplicas: number
}

export interface ScaleResult {
  backend: 'cluster'
  context: string | undefined
  namespace: string
  service: ScalableService
  kind: 'Deployment' | 'StatefulSet'
  name: string
  from: number
  to: number
  /** The HPA that targets the workload, with its bounds before this command. */
  hpa: (HpaInfo & { pinned: boolean }) | null
  notes: string[]
}

/** A user mistake or a missing object: the message says what to do. */
export class ScaleError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ScaleError'
  }
}

export function objectName(base: string, prefix?: string): string {
  return prefix ? `${prefix}-${base}` : base
}

export function checkService(service: string): ScalableService {
  if (!(service in WORKLOAD_KINDS)) throw new ScaleError(`cannot scale "${service}": scalable services are ${SCALABLE_SERVICES.join(', ')}`)
  return service as ScalableService
}

/** The HPA (autoscaling/v2) whose scaleTargetRef is this workload, if any; null when HPAs cannot be read. */
export async function findHpa(access: ClusterAccess, kind: string, name: string): Promise<HpaInfo | null | 'unknown'> {
  const api = access.kubeConfig.makeApiClient(AutoscalingV2Api)
  let items: V2HorizontalPodAutoscaler[]
  try {
    items = (await api.listNamespacedHorizontalPodAutoscaler({ namespace: access.namespace })).items
  } catch (err) {
    const code = apiStatus(err)
    if (code === 403 || code === 404) return 'unknown'
    throw err
  }
  const hpa = items.find((h) => h.spec?.scaleTargetRef?.kind === kind && h.spec.scaleTargetRef.name === name)
  if (!hpa) return null
  return { name: hpa.metadata?.name ?? '?', minReplicas: hpa.spec?.minReplicas ?? 1, maxReplicas: hpa.spec?.maxReplicas ?? 1 }
}

export async function scaleOnCluster(opts: ScaleOptions): Promise<ScaleResult> {
  const service = checkService(opts.service)
  if (!Number.isSafeInteger(opts.replicas) || opts.replicas < 0) throw new ScaleError(`replicas must be a whole number >= 0, got ${opts.replicas}`)
  if (opts.pin && opts.replicas < 1) throw new ScaleError('an HPA cannot be pinned to 0 replicas (its minReplicas is at least 1); scale to 0 without --pin, or remove the HPA')
  let access = connectCluster(opts, opts.env)
  try {
    access = await locateInstall(access)
    return await scale(access, service, opts)
  } catch (err) {
    throw explainClusterError(err, access)
  }
}

async function scale(access: ClusterAccess, service: ScalableService, opts: ScaleOptions): Promise<ScaleResult> {
  const { namespace } = access
  const kind = WORKLOAD_KINDS[service]
  const name = objectName(service, opts.namePrefix)
  const apps = access.kubeConfig.makeApiClient(AppsV1Api)
  const n = opts.replicas
  let from: number
  try {
    const s = kind === 'StatefulSet' ? await apps.readNamespacedStatefulSetScale({ name, namespace }) : await apps.readNamespacedDeploymentScale({ name, namespace })
    from = s.spec?.replicas ?? 0
  } catch (err) {
    if (isNotFound(err)) {
      throw new ScaleError(
        `no ${kind} "${name}" in namespace "${namespace}"${access.context ? ` (context ${access.context})` : ''}: is tpipe installed there (\`tpipe up\`)? Use --namespace, or --name-prefix if the release prefixes names`,
      )
    }
    throw err
  }

  const notes: string[] = []
  const found = await findHpa(access, kind, name)
  let hpa: ScaleResult['hpa'] = null
  if (found === 'unknown') {
    notes.push('could not read HorizontalPodAutoscalers here; if one manages this workload it may undo the change')
  } else if (found) {
    hpa = { ...found, pinned: false }
    if (opts.pin) {
      // Pin first: otherwise the HPA may scale back between our two writes.
      const api = access.kubeConfig.makeApiClient(AutoscalingV2Api)
      await api.patchNamespacedHorizontalPodAutoscaler({ name: found.name, namespace, body: { spec: { minReplicas: n, maxReplicas: n } } }, mergePatchOptions())
      hpa.pinned = true
      notes.push(
        `pinned HorizontalPodAutoscaler ${found.name} to min = max = ${n} (was ${found.minReplicas}..${found.maxReplicas}); autoscaling of ${name} is off until its bounds are changed back (e.g. helm upgrade)`,
      )
    } else if (n < found.minReplicas || n > found.maxReplicas) {
      notes.push(
        `HorizontalPodAutoscaler ${found.name} manages ${name} with min ${found.minReplicas}, max ${found.maxReplicas}: it will move ${n} back into that range on its next sync. Use --pin to set min = max = ${n}`,
      )
    } else {
      notes.push(`HorizontalPodAutoscaler ${found.name} manages ${name} (min ${found.minReplicas}, max ${found.maxReplicas}) and may change ${n} with load. Use --pin to keep exactly ${n}`)
    }
  }

  const body = { spec: { replicas: n } }
  if (kind === 'StatefulSet') await apps.patchNamespacedStatefulSetScale({ name, namespace, body }, mergePatchOptions())
  else await apps.patchNamespacedDeploymentScale({ name, namespace, body }, mergePatchOptions())
  if (service === 'mqreader' && from !== n) notes.push('the partition-controller moves partitions to the new replica set; `tpipe status` shows the new generation')
  return { backend: 'cluster', context: access.context, namespace, service, kind, name, from, to: n, hpa, notes }
}

export function formatScaleResult(r: ScaleResult): string {
  const lines = [`${r.kind.toLowerCase()}/${r.name} in ${r.namespace}${r.context ? ` (${r.context})` : ''}: ${r.from} → ${r.to} replicas`]
  for (const n of r.notes) lines.push(`  note: ${n}`)
  return lines.join('\n')
}
