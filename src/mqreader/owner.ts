// PartitionOwner: everything a reader knows, behind one object the HTTP routes call. It wires the parts
// and runs the lock loop (fencing):
//   partition-state.ts  which partitions it serves (named states, asserted transitions; pure)
//   store.ts            the messages in memory: ready FIFOs per partition, leased, ack pending
//   loader.ts           refill from queue_messages + gap checks for rows committed out of id order
//   lease-book.ts       leases (with expiry) and lease requests waiting for messages
//   ack-batcher.ts      acks coalesced into one DELETE
//   locks.ts            the advisory-lock session that fences ownership
// Every state change is synchronous code between awaits, and the asynchronous work is serialised into
// three loops (refill, lock reconcile, ack flush) that re-check state when their I/O returns: concurrent
// HTTP requests never interleave inside an operation.
//
// The database stays a dumb FIFO: SELECT to load, DELETE to ack. Nothing is written on lease or expiry;
// if the reader dies, unacked rows are simply still there for the next owner.
import type { Logger } from 'pino'
import type { Pool } from '../db/pool.js'
import { TpipeError } from '../errors.js'
import { formatPartitions } from '../partitions/ranges.js'
import type { Assignment, AssignmentView } from '../protocol/assignment.js'
import type { OwnerStats } from '../protocol/stats.js'
import { AckBatcher } from './ack-batcher.js'
import { systemClock, sleepOn, type Clock, type Timer } from './clock.js'
import { LeaseBook, type Lease, type LeaseCount, type ReleaseResult } from './lease-book.js'
import { Loader } from './loader.js'
import { PartitionLocks } from './locks.js'
import { PartitionTable, type Transition } from './partition-state.js'
import { MessageStore } from './store.js'

export type { Lease, ReleaseResult } from './lease-book.js'

export interface OwnerOptions {
  name: string
  databaseUrl: string
  pool: Pool
  log: Logger
  visibilityTimeoutMs: number
  maxMessages: number
  /** Bytes of ready and leased messages at most (a refill stops short of it). */
  maxBytes: number
  lowWater: number
  loadBatch: number
  refillIntervalMs: number
  leaseMax: number
  /** Most bytes of messages one lease answer carries: a lease returns fewer messages rather than more. */
  leaseMaxBytes: number
  maxWaitMs: number
  maxWaiters: number
  ackDelayMs: number
  drainTimeoutMs: number
  lockRetryMs: number
  /** Defaults to the system clock. */
  clock?: Clock
  /** Ownership and lease events, for tests that check fencing from the outside. */
  onEvent?: (e: OwnerEvent) => void
  /** Counter increments, for the service's metrics. */
  onCount?: (what: 'acked' | LeaseCount, n: number) => void
}

export interface OwnerEvent {
  type: 'acquired' | 'released' | 'leased'
  reader: string
  partition: number
  /** The clock's now() (performance.now()). */
  at: number
}

export class PartitionOwner {
  readonly name: string
  private readonly o: OwnerOptions
  private readonly clock: Clock
  private readonly locks: PartitionLocks
  private readonly table: PartitionTable
  private readonly store = new MessageStore()
  private readonly loader: Loader
  private readonly book: LeaseBook
  private readonly acks: AckBatcher

  private reconciling = false
  private reconcileAgain = false
  private lastReconcileWarn = -Infinity
  private reconcileTimer: Timer | undefined

  private closing = false
  private closed = false

  constructor(opts: OwnerOptions) {
    this.o = opts
    this.name = opts.name
    const clock = (this.clock = opts.clock ?? systemClock)
    this.table = new PartitionTable(opts.name)
    this.locks = new PartitionLocks(opts.databaseUrl, opts.name, () => this.onLocksLost(), opts.log)
    this.loader = new Loader(this.table, this.store, {
      pool: opts.pool,
      log: opts.log,
      clock,
      maxMessages: opts.maxMessages,
      maxBytes: opts.maxBytes,
      lowWater: opts.lowWater,
      loadBatch: opts.loadBatch,
      refillIntervalMs: opts.refillIntervalMs,
      onReady: () => this.book.serveWaiters(),
    })
    this.book = new LeaseBook(this.table, this.store, {
      maxWaiters: opts.maxWaiters,
      leaseMaxBytes: opts.leaseMaxBytes,
      clock,
      ...(opts.onEvent ? { onLeased: (p: number) => this.emit('leased', p) } : {}),
      ...(opts.onCount ? { onCount: opts.onCount } : {}),
      onTaken: () => this.loader.kick(),
      onReturned: () => {
        this.loader.kick()
        this.checkDrains()
      },
    })
    this.acks = new AckBatcher(this.table, this.store, {
      pool: opts.pool,
      log: opts.log,
      clock,
      ackDelayMs: opts.ackDelayMs,
      ...(opts.onCount ? { onCount: opts.onCount } : {}),
      onFailed: (msgs) => this.book.backToReady(msgs, false),
      onSettled: () => {
        this.checkDrains()
        this.loader.kick()
      },
    })
    this.armReconcileTimer()
  }

  /** The periodic lock retry (a lock another reader still holds, a drain deadline, a lost session). */
  private armReconcileTimer(): void {
    this.reconcileTimer = this.clock.setTimeout(
      () => {
        if (this.closed) return
        if (this.needsReconcile()) this.kickReconcile()
        this.armReconcileTimer()
      },
      this.o.lockRetryMs,
      { background: true },
    )
  }

  // ---------------------------------------------------------------- assignment

  /**
   * The one entry point of every assignment source (HTTP PUT, the assignment file, a ConfigMap watch).
   * An older generation than the one in force is refused; the same or a newer one replaces it.
   */
  applyAssignment(a: Assignment): AssignmentView {
    if (this.closing) throw new TpipeError('TPIPE_ERR_SHUTTING_DOWN')
    this.apply(this.table.assign(a, this.clock.now() + this.o.drainTimeoutMs))
    this.kickReconcile()
    return this.view()
  }

  /** What leaving or re-entering `owned` means for the rest (acquisitions are handled where locks are taken). */
  private apply(transitions: readonly Transition[]): void {
    for (const t of transitions) {
      // Lost partition: no new leases; ready messages leave memory (their rows stay for the next owner).
      if (t.from === 'owned' && t.to === 'draining') this.store.clearReady(t.partition)
      // Assigned again while draining: serve it again at once (the lock was never released). Load from
      // the start again; ids still leased are known and skipped, and anything dropped meanwhile is below
      // the cursor only until the next gap check.
      else if (t.from === 'draining' && t.to === 'owned') this.loader.reset(t.partition)
    }
  }

  view(): AssignmentView {
    return this.table.view()
  }

  /** Ready: the lock session is up, this reader has an assignment entry, and it is not shutting down. */
  get ready(): boolean {
    return !this.closing && this.table.hasEntry && this.locks.connected
  }

  get partitionsOwned(): number {
    return this.table.owned.length
  }

  get readyMessages(): number {
    return this.store.readyTotal
  }

  /** Bytes of the ready and leased messages held in memory. */
  get heldBytes(): number {
    return this.store.heldBytes
  }

  get leasedMessages(): number {
    return this.store.leasedTotal
  }

  get acked(): number {
    return this.acks.acked
  }

  get redelivered(): number {
    return this.book.redelivered
  }

  get leasesExpired(): number {
    return this.book.leasesExpired
  }

  get leasesReleased(): number {
    return this.book.leasesReleased
  }

  utilization(): number {
    return Math.min(1, Math.max((this.store.readyTotal + this.store.leasedTotal) / this.o.maxMessages, this.store.heldBytes / this.o.maxBytes))
  }

  stats(): OwnerStats {
    return {
      reader: this.name,
      generation: this.table.generation,
      partitions_owned: this.table.owned.length,
      ready: this.store.readyTotal,
      leased: this.store.leasedTotal,
      buffer_utilization: this.utilization(),
      acked_total: this.acked,
      redelivered_total: this.redelivered,
      leases_expired_total: this.leasesExpired,
      leases_released_total: this.book.leasesReleased,
      messages_released_total: this.book.messagesReleased,
      release_unknown_total: this.book.releaseUnknown,
    }
  }

  private emit(type: OwnerEvent['type'], partition: number): void {
    this.o.onEvent?.({ type, reader: this.name, partition, at: this.clock.now() })
  }

  // ---------------------------------------------------------------- locks (fencing)

  private needsReconcile(): boolean {
    if (this.closed) return false
    if (!this.locks.connected) return this.table.anyDesired() || this.closing
    return this.table.needsLockWork()
  }

  kickReconcile(): void {
    if (this.closed) return
    if (this.reconciling) {
      this.reconcileAgain = true
      return
    }
    this.reconciling = true
    void this.reconcile()
      .catch((err: unknown) => {
        // Retried every lockRetryMs while the database is down: one warning per 10 s is enough.
        const now = this.clock.now()
        if (now - this.lastReconcileWarn > 10_000) {
          this.lastReconcileWarn = now
          this.o.log.warn({ err: (err as Error).message }, 'partition lock reconcile failed; retrying')
        }
      })
      .finally(() => {
        this.reconciling = false
        if (this.reconcileAgain) {
          this.reconcileAgain = false
          this.kickReconcile()
        }
      })
  }

  private async reconcile(): Promise<void> {
    if (!this.locks.connected) {
      if (this.closing) return
      await this.locks.connect()
    }
    const { table, store } = this
    const now = this.clock.now()
    // Releases: drained partitions (or drain timed out).
    const release: number[] = []
    for (const p of table.inState('draining')) {
      const outstanding = store.outstanding(p)
      if (outstanding > 0 && !table.drainExpired(p, now)) continue
      if (store.leasedCount[p]! > 0) this.o.log.warn({ partition: p, leased: store.leasedCount[p] }, 'drain timed out; releasing with leases out (they will be redelivered by the next owner)')
      // Drops every message of p from memory: ready ones and those still in leases.
      store.clearReady(p)
      this.book.dropPartition(p)
      table.beginRelease(p)
      // The event marks the end of service: emitted before the unlock is even sent.
      this.emit('released', p)
      release.push(p)
    }
    if (release.length > 0) {
      await this.locks.unlock(release)
      for (const p of release) table.released(p)
    }
    // Acquisitions.
    const want = table.inState('waiting')
    if (want.length > 0 && !this.closing) {
      const got = await this.locks.tryLock(want)
      const giveBack: number[] = []
      for (const p of got) {
        const r = table.lockTaken(p)
        if (r === 'owned') {
          this.loader.reset(p)
          this.emit('acquired', p)
        } else if (r === 'giveBack') giveBack.push(p)
      }
      if (giveBack.length > 0) await this.locks.unlock(giveBack)
      if (got.length > 0) this.o.log.info({ acquired: formatPartitions(got) }, 'partitions acquired')
    }
    this.loader.kick()
  }

  /** The lock session died: every lock is gone, so stop serving everything now and start over. */
  private onLocksLost(): void {
    for (const t of this.table.lost(this.closing)) this.emit('released', t.partition)
    this.book.clear()
    this.store.clearAll()
    this.loader.forgetMarks()
  }

  /** A draining partition with nothing outstanding can be released now. */
  private checkDrains(): void {
    for (const p of this.table.inState('draining')) {
      if (this.store.outstanding(p) === 0) {
        this.kickReconcile()
        return
      }
    }
  }

  // ---------------------------------------------------------------- leases and acks

  /**
   * Leases up to `max` ready messages. With nothing ready and waitMs > 0, parks the request until
   * messages arrive or the wait ends (then null: an empty answer).
   */
  lease(max: number, visibilityMs: number, waitMs: number, signal?: AbortSignal, maxBytes?: number): Promise<Lease | null> {
    if (this.closing) return Promise.reject(new TpipeError('TPIPE_ERR_SHUTTING_DOWN'))
    return this.book.lease(max, visibilityMs, waitMs, signal, maxBytes)
  }

  /**
   * Acks a lease (all of it, or the listed msg_uuids of it). Resolves with the number acked after the
   * DELETE holding them has committed; acks arriving within ackDelayMs share one DELETE.
   */
  ack(leaseId: string, uuids?: readonly string[]): Promise<number> {
    let msgs
    try {
      msgs = this.book.ack(leaseId, uuids)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.acks.add(msgs)
  }

  /**
   * Leases handed back unprocessed (a collector stopping or leaving this reader): their messages are
   * ready again at once, or — in a draining partition — left for the next owner, and a drain with
   * nothing else outstanding ends now instead of at its deadline. Accepted while shutting down, like
   * acks. Unknown lease ids are counted, not errors; a late ack of a released lease gets 409.
   */
  release(leaseIds: readonly string[]): ReleaseResult {
    return this.book.release(leaseIds)
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Drain on shutdown: stop leasing, let outstanding leases be acked or expire (bounded by the drain
   * timeout), flush acks, release every lock. Unacked rows stay in the table for the next owner.
   */
  async shutdown(): Promise<void> {
    if (this.closing) return
    this.closing = true
    this.loader.close()
    this.book.releaseWaiters()
    const deadline = this.clock.now() + this.o.drainTimeoutMs
    this.apply(this.table.unassignAll(deadline))
    this.kickReconcile()
    while (this.clock.now() < deadline + 2000) {
      if (!this.table.anyHeld() && !this.table.needsLockWork()) break
      if (!this.locks.connected) break
      await sleepOn(this.clock, 25)
      if (!this.reconciling) this.kickReconcile()
    }
    await this.acks.flushNow()
    await this.close()
  }

  /** Immediate stop: timers off, lock session ended (the server releases the locks). */
  async close(): Promise<void> {
    this.closing = true
    this.closed = true
    this.clock.clearTimeout(this.reconcileTimer)
    this.loader.close()
    this.acks.close()
    this.book.clear()
    this.book.releaseWaiters()
    await this.locks.close()
  }

  /** Test helper: the ready ids of a partition in queue order. */
  readyIds(p: number): number[] {
    return this.store.readyIds(p)
  }
}
