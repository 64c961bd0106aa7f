// PartitionController: owns the mqreader-partitions ConfigMap. Every replica watches the mqreader
// StatefulSet; only the Lease holder writes. A replica change (debounced) becomes a new assignment
// document, planned from the previous one read back from the ConfigMap so the fewest partitions move,
// written with generation+1 through a replace that carries the read resourceVersion (409 → read again,
// retry). One reconcile runs at a time (an owner loop: a change during a reconcile queues one more).
import { AppsV1Api, CoreV1Api, CoordinationV1Api, type KubeConfig, type V1ConfigMap, type V1StatefulSet } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { apiMessage, isConflict, isNotFound, mergePatchOptions, sleep } from '../cluster/kube.js'
import { Counter, Gauge, type Registry } from '../metrics/index.js'
import { ASSIGNMENT_KEY, formatAssignmentDoc, parseAssignmentDoc, type AssignmentDoc } from '../protocol/assignment.js'
import { nextAssignmentDoc } from './assignment.js'
import { LeaderElector } from './leader.js'
import { ObjectWatch } from './watch.js'

export interface PartitionControllerOptions {
  kubeConfig: KubeConfig
  namespace: string
  statefulSet: string
  configMap: string
  leaseName: string
  identity: string
  leaseDurationMs: number
  renewDeadlineMs: number
  retryPeriodMs: number
  debounceMs: number
  relistIntervalMs: number
  restartOnChange: boolean
  log: Logger
  registry: Registry
  /** Attempts of one reconcile when the ConfigMap write conflicts (409). */
  maxConflictRetries?: number
}

export type ReconcileResult = 'written' | 'unchanged' | 'not-leader' | 'no-statefulset' | 'error'

export interface ControllerStatus {
  identity: string
  leader: boolean
  /** Holder of the Lease as last seen. */
  leaseHolder: string | undefined
  /** spec.replicas of the StatefulSet as last seen (undefined: not seen or absent). */
  replicas: number | undefined
  generation: number | undefined
  synced: boolean
}

export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt'

export class PartitionController {
  private readonly apps: AppsV1Api
  private readonly core: CoreV1Api
  readonly elector: LeaderElector
  readonly watch: ObjectWatch<V1StatefulSet>
  private desired: number | undefined
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private again = false
  private stopped = false
  private readonly stopSignal = new AbortController()
  private generation: number | undefined
  private readonly isLeaderGauge: Gauge
  private readonly reconciles: Counter<'result'>
  private readonly generationGauge: Gauge
  /** The outcome of the last reconcile, for tests and logs. */
  lastResult: ReconcileResult | undefined

  constructor(private readonly o: PartitionControllerOptions) {
    this.apps = o.kubeConfig.makeApiClient(AppsV1Api)
    this.core = o.kubeConfig.makeApiClient(CoreV1Api)
    this.isLeaderGauge = new Gauge({ name: 'partition_controller_is_leader', help: '1 while this replica holds the leader Lease, else 0.', registers: [o.registry] })
    this.reconciles = new Counter({
      name: 'partition_controller_reconciles_total',
      help: 'Reconciles by outcome: written (new generation), unchanged, error.',
      labelNames: ['result'],
      registers: [o.registry],
    })
    this.generationGauge = new Gauge({ name: 'partition_controller_generation', help: 'Generation of the assignment ConfigMap as last read or written.', registers: [o.registry] })
    this.isLeaderGauge.set(0)
    this.elector = new LeaderElector({
      api: o.kubeConfig.makeApiClient(CoordinationV1Api),
      namespace: o.namespace,
      name: o.leaseName,
      identity: o.identity,
      leaseDurationMs: o.leaseDurationMs,
      renewDeadlineMs: o.renewDeadlineMs,
      retryPeriodMs: o.retryPeriodMs,
      log: o.log,
      onStartedLeading: () => {
        this.isLeaderGauge.set(1)
        // A new leader checks the ConfigMap at once: the old one may have died mid-change.
        this.schedule(0)
      },
      onStoppedLeading: () => {
        this.isLeaderGauge.set(0)
        clearTimeout(this.timer)
      },
    })
    this.watch = new ObjectWatch<V1StatefulSet>({
      kubeConfig: o.kubeConfig,
      path: `/apis/apps/v1/namespaces/${encodeURIComponent(o.namespace)}/statefulsets`,
      name: o.statefulSet,
      relistIntervalMs: o.relistIntervalMs,
      list: (fieldSelector) => this.apps.listNamespacedStatefulSet({ namespace: o.namespace, fieldSelector }),
      onObject: (sts) => this.observe(sts),
      onError: (err, phase) => o.log.warn({ err: apiMessage(err), phase, statefulSet: o.statefulSet }, 'StatefulSet watch failed; restarting'),
    })
  }

  start(): void {
    this.watch.start()
    this.elector.start()
  }

  /** Stops watching and campaigning; see LeaderElector.stop for `release`. */
  async stop({ release = true }: { release?: boolean } = {}): Promise<void> {
    this.stopped = true
    this.stopSignal.abort()
    clearTimeout(this.timer)
    await Promise.all([this.watch.stop(), this.elector.stop({ release })])
    await this.running
    this.isLeaderGauge.set(0)
  }

  isLeader(): boolean {
    return !this.stopped && this.elector.isLeader()
  }

  status(): ControllerStatus {
    return {
      identity: this.o.identity,
      leader: this.isLeader(),
      leaseHolder: this.elector.holder,
      replicas: this.desired,
      generation: this.generation,
      synced: this.watch.synced,
    }
  }

  private observe(sts: V1StatefulSet | undefined): void {
    const replicas = sts ? (sts.spec?.replicas ?? 1) : undefined
    if (replicas !== this.desired) this.o.log.info({ statefulSet: this.o.statefulSet, from: this.desired, to: replicas }, 'mqreader replicas changed')
    this.desired = replicas
    // Every list and event schedules a reconcile: after a relist this doubles as a periodic resync
    // (a ConfigMap deleted or edited by hand is repaired); an unchanged one costs one GET.
    this.schedule(this.o.debounceMs)
  }

  private schedule(delayMs: number): void {
    if (this.stopped || !this.elector.isLeader()) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.kick(), delayMs)
  }

  private kick(): void {
    if (this.running) {
      this.again = true
      return
    }
    this.running = (async () => {
      try {
        do {
          this.again = false
          const result = await this.reconcile()
          if (result === 'error') this.schedule(this.o.retryPeriodMs)
        } while (this.again && !this.stopped)
      } finally {
        this.running = undefined
      }
    })()
  }

  /** One reconcile: make the ConfigMap say the plan for the current replica count. */
  async reconcile(): Promise<ReconcileResult> {
    const result = await this.reconcileOnce().catch((err: unknown) => {
      this.o.log.error({ err: apiMessage(err), configMap: this.o.configMap }, 'reconcile failed; retrying')
      return 'error' as const
    })
    this.lastResult = result
    if (result === 'written' || result === 'unchanged' || result === 'error') this.reconciles.inc({ result })
    return result
  }

  private async reconcileOnce(): Promise<ReconcileResult> {
    const { namespace, configMap: name, statefulSet } = this.o
    const attempts = this.o.maxConflictRetries ?? 8
    for (let attempt = 1; ; attempt++) {
      if (!this.isLeader()) return 'not-leader'
      const replicas = this.desired
      if (replicas === undefined) return 'no-statefulset'
      let cm: V1ConfigMap | undefined
      try {
        cm = await this.core.readNamespacedConfigMap({ name, namespace })
      } catch (err) {
        if (!isNotFound(err)) throw err
      }
      let previous: AssignmentDoc | undefined
      const text = cm?.data?.[ASSIGNMENT_KEY]
      if (text !== undefined) {
        try {
          previous = parseAssignmentDoc(text)
        } catch (err) {
          this.o.log.warn({ err: (err as Error).message, configMap: name }, 'existing assignment is not valid; replacing it')
        }
      }
      const next = nextAssignmentDoc(previous, statefulSet, replicas)
      if (!next) {
        this.setGeneration(previous!.generation)
        return 'unchanged'
      }
      // Leadership may have been lost during the read: check right before writing.
      if (!this.isLeader()) return 'not-leader'
      const data = { ...(cm?.data ?? {}), [ASSIGNMENT_KEY]: formatAssignmentDoc(next) }
      try {
        if (cm) {
          // replace carries cm.metadata.resourceVersion: a concurrent writer makes this a 409.
          await this.core.replaceNamespacedConfigMap({ name, namespace, body: { ...cm, data } })
        } else {
          await this.core.createNamespacedConfigMap({
            namespace,
            body: {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'tpipe-partition-controller' } },
              data,
            },
          })
        }
      } catch (err) {
        if (isConflict(err) && attempt < attempts) {
          this.o.log.info({ configMap: name, attempt }, 'assignment write conflicted; reading again')
          await sleep(Math.min(50 * attempt, 500), this.stopSignal.signal)
          continue
        }
        throw err
      }
      this.setGeneration(next.generation)
      this.o.log.info({ configMap: name, generation: next.generation, replicas, assignments: next.assignments }, 'assignment written')
      if (this.o.restartOnChange) await this.restartReaders()
      return 'written'
    }
  }

  private setGeneration(g: number): void {
    this.generation = g
    this.generationGauge.set(g)
  }

  /** Fallback: a rolling restart, as `kubectl rollout restart` does it (merge patch of the pod template). */
  private async restartReaders(): Promise<void> {
    if (!this.isLeader()) return
    const { namespace, statefulSet: name } = this.o
    await this.apps.patchNamespacedStatefulSet(
      { name, namespace, body: { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date().toISOString() } } } } } },
      mergePatchOptions(),
    )
    this.o.log.info({ statefulSet: name }, 'rolling restart requested (--restart-on-change)')
  }
}
