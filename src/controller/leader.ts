// Leader election on a coordination.k8s.io/v1 Lease, written by hand (client-node has no helper), after
// client-go's leaderelection: every retry period, read the Lease and acquire it (absent, released or
// expired) or renew it (ours) with a replace carrying the read resourceVersion — a 409 means another
// candidate wrote first, so we lost. Expiry is judged by when *we* last saw the record change (a local
// monotonic clock), never by comparing our clock with the holder's renewTime. A leader that has not
// renewed for the renew deadline (< lease duration) steps down before anyone else may take over, and
// isLeader() turns false at that instant, so a caller that checks it before every write never writes
// after another candidate could have become leader.
import { performance } from 'node:perf_hooks'
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { apiMessage, isConflict, isNotFound } from '../kube/index.js'
import { sleep } from '../util/async.js'

export interface LeaderElectorOptions {
  api: CoordinationV1Api
  namespace: string
  name: string
  identity: string
  leaseDurationMs: number
  renewDeadlineMs: number
  retryPeriodMs: number
  log?: Logger | undefined
  onStartedLeading?: () => void
  onStoppedLeading?: () => void
  /** Called when the observed holder changes (including to ourselves and to nobody ""). */
  onNewLeader?: (identity: string) => void
}

type Attempt = 'held' | 'other' | 'lost'

/** Validates the timing the way client-go does; throws with the setting names. */
export function checkLeaseTiming(opts: Pick<LeaderElectorOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>): void {
  if (opts.renewDeadlineMs >= opts.leaseDurationMs) {
    throw new Error(`TPIPE_CONTROLLER_RENEW_DEADLINE_MS (${opts.renewDeadlineMs}) must be below TPIPE_CONTROLLER_LEASE_DURATION_MS (${opts.leaseDurationMs})`)
  }
  if (opts.retryPeriodMs >= opts.renewDeadlineMs) {
    throw new Error(`TPIPE_CONTROLLER_RETRY_PERIOD_MS (${opts.retryPeriodMs}) must be below TPIPE_CONTROLLER_RENEW_DEADLINE_MS (${opts.renewDeadlineMs})`)
  }
}

export class LeaderElector {
  private leading = false
  private lastRenewAt = 0
  private observedKey = ''
  private observedAt = 0
  private observedHolder = ''
  private observedRv: string | undefined
  private stopped = false
  private readonly stopSignal = new AbortController()
  private loop: Promise<void> | undefined
  /** Times this elector stopped leading (lease lost, deadline passed or stopped). */
  stepDowns = 0

  constructor(private readonly opts: LeaderElectorOptions) {
    checkLeaseTiming(opts)
  }

  /** True only while we hold a Lease renewed within the renew deadline. */
  isLeader(): boolean {
    return this.leading && !this.stopped && performance.now() - this.lastRenewAt < this.opts.renewDeadlineMs
  }

  /** The holder last seen in the Lease ("" when released, undefined before the first read). */
  get holder(): string | undefined {
    return this.observedKey === '' ? undefined : this.observedHolder
  }

  start(): void {
    this.loop ??= this.run()
  }

  /**
   * Stops campaigning. With release, a leader gives the Lease up (holder "") so a successor need not
   * wait for it to expire; without, the Lease is left to expire — what a crashed process leaves behind.
   */
  async stop({ release = true }: { release?: boolean } = {}): Promise<void> {
    const wasLeading = this.isLeader()
    this.stopped = true
    this.stopSignal.abort()
    await this.loop
    if (this.leading) this.stepDown('stopped')
    if (release && wasLeading) await this.release()
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let attempt: Attempt | 'error'
      try {
        attempt = await this.tryAcquireOrRenew()
      } catch (err) {
        this.opts.log?.warn({ err: apiMessage(err), lease: this.opts.name }, 'lease acquire/renew failed')
        attempt = 'error'
      }
      if (this.stopped) return
      const now = performance.now()
      if (attempt === 'held') {
        this.lastRenewAt = now
        if (!this.leading) {
          this.leading = true
          this.opts.log?.info({ identity: this.opts.identity, lease: this.opts.name }, 'became leader')
          this.opts.onStartedLeading?.()
        }
      } else if (this.leading) {
        // 'other'/'lost': someone else holds it now; 'error': keep trying until the renew deadline.
        if (attempt !== 'error' || now - this.lastRenewAt >= this.opts.renewDeadlineMs) this.stepDown(attempt === 'error' ? 'renew deadline passed' : 'lease taken')
      }
      await sleep(this.opts.retryPeriodMs, this.stopSignal.signal)
      // A renew deadline can pass while we sleep (slow API): step down at once, not on the next round.
      if (this.leading && !this.isLeader() && !this.stopped) this.stepDown('renew deadline passed')
    }
  }

  private stepDown(why: string): void {
    if (!this.leading) return
    this.leading = false
    this.stepDowns++
    this.opts.log?.warn({ identity: this.opts.identity, lease: this.opts.name, why }, 'lost leadership')
    this.opts.onStoppedLeading?.()
  }

  private observe(lease: V1Lease): void {
    const holder = lease.spec?.holderIdentity ?? ''
    const key = `${holder}|${String(lease.spec?.renewTime ?? '')}|${lease.metadata?.resourceVersion ?? ''}`
    if (key !== this.observedKey) {
      this.observedKey = key
      this.observedAt = performance.now()
    }
    this.observedRv = lease.metadata?.resourceVersion
    const changed = holder !== this.observedHolder
    this.observedHolder = holder
    if (changed) this.opts.onNewLeader?.(holder)
  }

  private leaseSeconds(): number {
    return Math.max(1, Math.ceil(this.opts.leaseDurationMs / 1000))
  }

  private async tryAcquireOrRenew(): Promise<Attempt> {
    const { api, namespace, name, identity } = this.opts
    const now = new V1MicroTime(Date.now())
    let lease: V1Lease
    try {
      lease = await api.readNamespacedLease({ name, namespace })
    } catch (err) {
      if (!isNotFound(err)) throw err
      try {
        const created = await api.createNamespacedLease({
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: this.leaseSeconds(), acquireTime: now, renewTime: now, leaseTransitions: 0 },
          },
        })
        this.observe(created)
        return 'held'
      } catch (e) {
        if (isConflict(e)) return 'lost' // AlreadyExists: another candidate created it first
        throw e
      }
    }
    this.observe(lease)
    const spec = lease.spec ?? {}
    const holder = spec.holderIdentity ?? ''
    const ours = holder === identity
    if (holder !== '' && !ours && performance.now() - this.observedAt < this.opts.leaseDurationMs) return 'other'
    if (this.stopped) return 'other'
    const body: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: this.leaseSeconds(),
        renewTime: now,
        acquireTime: ours && spec.acquireTime ? spec.acquireTime : now,
        leaseTransitions: ours ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    }
    try {
      const replaced = await api.replaceNamespacedLease({ name, namespace, body })
      this.observe(replaced)
      return 'held'
    } catch (err) {
      if (isConflict(err)) return 'lost'
      throw err
    }
  }

  private async release(): Promise<void> {
    const { api, namespace, name, identity } = this.opts
    try {
      const lease = await api.readNamespacedLease({ name, namespace })
      if (lease.spec?.holderIdentity !== identity) return
      const now = new V1MicroTime(Date.now())
      await api.replaceNamespacedLease({
        name,
        namespace,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: lease.spec.acquireTime ?? now } },
      })
      this.opts.log?.info({ identity, lease: name }, 'released the lease')
    } catch (err) {
      // Best effort: the Lease expires on its own.
      this.opts.log?.warn({ err: apiMessage(err), lease: name, rv: this.observedRv }, 'could not release the lease')
    }
  }
}
