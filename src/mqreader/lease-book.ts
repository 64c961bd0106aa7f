// The lease book: leases out (id → messages, each with its expiry timer) and lease requests waiting for
// messages (long-polls). Takes ready messages from the store, gives them back when a lease expires, and
// hands acked ones to the ack batcher's side of the store. Time comes from the injected clock.
import { randomUUID } from 'node:crypto'
import { TpipeError } from '../errors.js'
import type { RenderableLease } from '../protocol/lease.js'
import type { Clock, Timer } from './clock.js'
import type { PartitionTable } from './partition-state.js'
import type { Msg } from './queue.js'
import type { MessageStore } from './store.js'

export interface Lease extends RenderableLease {
  readonly id: string
  msgs: Msg[]
  /** Wall-clock milliseconds (shown to the client as expires_at). */
  readonly expiresAt: number
  timer: Timer
}

/** What the lease book counts (the reader's metrics). */
export type LeaseCount = 'expired' | 'redelivered' | 'released' | 'releasedMessages' | 'releaseUnknown'

/** What a release did: leases handed back, their messages, and lease ids that were not (or no longer) out. */
export interface ReleaseResult {
  leases: number
  messages: number
  unknown: number
}

export interface LeaseBookOptions {
  maxWaiters: number
  /** Most bytes of messages one lease carries (the rendered answer stays about this size). */
  leaseMaxBytes: number
  clock: Clock
  /** A lease took messages of partition p (for the owner's 'leased' events). */
  onLeased?: (p: number) => void
  onCount?: (what: LeaseCount, n: number) => void
  /** Ready messages were taken (the loader may need to refill). */
  onTaken: () => void
  /** A lease ended without an ack (expired or released): a draining partition may be done. */
  onReturned: () => void
}

interface LeaseWaiter {
  max: number
  visibilityMs: number
  maxBytes: number | undefined
  resolve: (lease: Lease | null) => void
  timer: Timer
}

// Room for the answer's envelope ({"lease_id":"…","expires_at":"…","messages":[…]}).
const ENVELOPE_BYTES = 128

export class LeaseBook {
  private readonly leases = new Map<string, Lease>()
  private waiters: LeaseWaiter[] = []
  private rotation = 0
  leasesExpired = 0
  redelivered = 0
  leasesReleased = 0
  messagesReleased = 0
  releaseUnknown = 0

  constructor(
    private readonly table: PartitionTable,
    private readonly store: MessageStore,
    private readonly opts: LeaseBookOptions,
  ) {}

  get waiting(): number {
    return this.waiters.length
  }

  /**
   * Leases up to `max` ready messages (fewer when their bytes would pass leaseMaxBytes, or the
   * request's own maxBytes when smaller). With nothing ready and waitMs > 0, parks the request until
   * messages arrive or the wait ends (then null).
   */
  lease(max: number, visibilityMs: number, waitMs: number, signal?: AbortSignal, maxBytes?: number): Promise<Lease | null> {
    const l = this.take(max, visibilityMs, maxBytes)
    if (l || waitMs <= 0) return Promise.resolve(l)
    if (this.waiters.length >= this.opts.maxWaiters) {
      return Promise.reject(new TpipeError('TPIPE_ERR_TOO_MANY_WAITERS', `${this.waiters.length} lease requests are already waiting`, { retryAfter: 1 }))
    }
    const clock = this.opts.clock
    return new Promise((resolve) => {
      const w: LeaseWaiter = {
        max,
        visibilityMs,
        maxBytes,
        resolve,
        timer: clock.setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w)
          resolve(null)
        }, waitMs),
      }
      this.waiters.push(w)
      signal?.addEventListener('abort', () => {
        // The client went away: leasing to it would only delay those messages by a visibility timeout.
        clock.clearTimeout(w.timer)
        this.waiters = this.waiters.filter((x) => x !== w)
        resolve(null)
      })
      this.opts.onTaken()
    })
  }

  private take(max: number, visibilityMs: number, maxBytes: number | undefined): Lease | null {
    if (this.store.readyTotal === 0) return null
    const owned = this.table.owned
    const start = owned.length === 0 ? 0 : this.rotation++ % owned.length
    const msgs = this.store.take(owned, start, max, { bytes: Math.min(this.opts.leaseMaxBytes, maxBytes ?? Infinity) - ENVELOPE_BYTES }, this.opts.onLeased)
    if (msgs.length === 0) return null
    const clock = this.opts.clock
    const id = randomUUID()
    const lease: Lease = { id, msgs, expiresAt: clock.wall() + visibilityMs, timer: clock.setTimeout(() => this.expire(id), visibilityMs) }
    this.leases.set(id, lease)
    this.opts.onTaken()
    return lease
  }

  /** Messages became ready: answer waiting requests first-come first-served while there are some. */
  serveWaiters(): void {
    while (this.waiters.length > 0 && this.store.readyTotal > 0) {
      const w = this.waiters.shift()!
      this.opts.clock.clearTimeout(w.timer)
      w.resolve(this.take(w.max, w.visibilityMs, w.maxBytes))
    }
  }

  /** Every waiting request gets an empty answer now (shutdown). */
  releaseWaiters(): void {
    for (const w of this.waiters.splice(0)) {
      this.opts.clock.clearTimeout(w.timer)
      w.resolve(null)
    }
  }

  private expire(id: string): void {
    const lease = this.leases.get(id)
    if (!lease) return
    this.leases.delete(id)
    this.leasesExpired++
    this.opts.onCount?.('expired', 1)
    for (const m of lease.msgs) this.store.unlease(m)
    this.backToReady(lease.msgs)
    this.opts.onReturned()
  }

  /**
   * Leases handed back unprocessed (POST /v1/release): their messages are ready again at once, in id
   * order at the front of their partition, or forgotten when the partition is no longer served here (a
   * drain: the rows stay queued for the next owner, and the drain may end now). Not a delivery attempt:
   * delivery_count is not raised, so a release never moves a message toward being a poison suspect.
   * Unknown ids (expired, acked, released already, never issued) are counted and otherwise ignored.
   */
  release(leaseIds: readonly string[]): ReleaseResult {
    const out: ReleaseResult = { leases: 0, messages: 0, unknown: 0 }
    const back: Msg[] = []
    for (const id of new Set(leaseIds)) {
      const lease = this.leases.get(id)
      if (!lease) {
        out.unknown++
        continue
      }
      this.end(lease)
      for (const m of lease.msgs) this.store.unlease(m)
      back.push(...lease.msgs)
      out.leases++
      out.messages += lease.msgs.length
    }
    this.leasesReleased += out.leases
    this.messagesReleased += out.messages
    this.releaseUnknown += out.unknown
    if (out.leases > 0) this.opts.onCount?.('released', out.leases)
    if (out.messages > 0) this.opts.onCount?.('releasedMessages', out.messages)
    if (out.unknown > 0) this.opts.onCount?.('releaseUnknown', out.unknown)
    if (back.length > 0) {
      this.backToReady(back, true, false)
      this.opts.onReturned()
    }
    return out
  }

  /**
   * Messages whose lease expired or was released (or whose DELETE failed) become ready again, in id
   * order, if their partition is still served under the epoch they were loaded in; others are forgotten
   * (their rows stay queued for whoever serves the partition now). `attempted`: the delivery counts
   * (expiry, failed DELETE); a release does not (the next delivery shows the same delivery_count), and
   * released messages are counted as released, not as redelivered.
   */
  backToReady(msgs: Msg[], fromLease = true, attempted = true): void {
    const groups = new Map<number, Msg[]>()
    const epoch = this.table.epoch
    for (const m of msgs) {
      const p = m.partition
      const owned = this.table.isOwned(p)
      // An older epoch in a partition we own again can only be a lease from before a drain that was
      // cancelled (resume): the lock was never released, the row is still queued, and the reload
      // skipped it while it was leased. It is ready again now, under the current epoch.
      if (owned && epoch[p] !== m.loadEpoch && fromLease) m.loadEpoch = epoch[p]!
      if (owned && epoch[p] === m.loadEpoch) {
        if (attempted) m.deliveries++
        const g = groups.get(p) ?? []
        g.push(m)
        groups.set(p, g)
      } else this.store.forget(m.id)
    }
    for (const [p, g] of groups) {
      this.store.mergeReady(p, g)
      if (attempted) {
        this.redelivered += g.length
        this.opts.onCount?.('redelivered', g.length)
      }
    }
    if (groups.size > 0) this.serveWaiters()
  }

  /**
   * Takes the acked messages out of a lease (all of it, or the listed msg_uuids): they are ack pending
   * from now on. The lease ends when nothing is left in it.
   */
  ack(leaseId: string, uuids?: readonly string[]): Msg[] {
    const lease = this.leases.get(leaseId)
    if (!lease) throw new TpipeError('TPIPE_ERR_LEASE_EXPIRED', `lease ${leaseId} is unknown or expired; its messages will be redelivered`)
    let acked: Msg[]
    if (uuids === undefined) {
      acked = lease.msgs
      lease.msgs = []
    } else {
      const want = new Set(uuids.map((u) => u.toLowerCase()))
      acked = []
      const keep: Msg[] = []
      for (const m of lease.msgs) (want.has(m.uuid) ? acked : keep).push(m)
      lease.msgs = keep
    }
    if (lease.msgs.length === 0) this.end(lease)
    for (const m of acked) this.store.toPending(m)
    return acked
  }

  /** Drops p's messages from every lease (drain timeout): they are neither redelivered nor acked here. */
  dropPartition(p: number): void {
    if (this.store.leasedCount[p]! === 0) return
    for (const lease of this.leases.values()) {
      const keep: Msg[] = []
      for (const m of lease.msgs) {
        if (m.partition === p) {
          this.store.forget(m.id)
          this.store.unlease(m)
        } else keep.push(m)
      }
      lease.msgs = keep
      if (keep.length === 0) this.end(lease)
    }
  }

  /** Forgets every lease (the lock session was lost, or the reader stops). */
  clear(): void {
    for (const lease of this.leases.values()) this.opts.clock.clearTimeout(lease.timer)
    this.leases.clear()
  }

  private end(lease: Lease): void {
    this.opts.clock.clearTimeout(lease.timer)
    this.leases.delete(lease.id)
  }
}
