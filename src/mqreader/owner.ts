import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Pool } from '../db/pool.js'
import { isUnavailable } from '../db/errors.js'
import { TpipeError } from '../errors.js'
import { PARTITION_COUNT } from '../partitions/hash.js'
import { formatPartitions } from '../partitions/ranges.js'
import type { Assignment } from './assignment.js'
import { PartitionLocks } from './locks.js'
import { ReadyQueue, type Msg } from './queue.js'
import { deleteIds, gapIds, loadBatch, rowsById } from './sql.js'

export interface OwnerOptions {
  name: string
  databaseUrl: string
  pool: Pool
  log: Logger
  visibilityTimeoutMs: number
  maxMessages: number
  lowWater: number
  loadBatch: number
  refillIntervalMs: number
  leaseMax: number
  maxWaitMs: number
  maxWaiters: number
  ackDelayMs: number
  drainTimeoutMs: number
  lockRetryMs: number
  /** Ownership and lease events, for tests that check fencing from the outside. */
  onEvent?: (e: OwnerEvent) => void
  /** Counter increments, for the service's metrics. */
  onCount?: (what: 'acked' | 'expired' | 'redelivered', n: number) => void
}

export interface OwnerEvent {
  type: 'acquired' | 'released' | 'leased'
  reader: string
  partition: number
  /** performance.now() */
  at: number
}

export interface Lease {
  readonly id: string
  msgs: Msg[]
  readonly expiresAt: number
  timer: NodeJS.Timeout
}

export interface AssignmentView {
  reader: string
  generation: number
  owned: string
  draining: string
  waiting: string
}

export interface OwnerStats {
  reader: string
  generation: number
  partitions_owned: number
  ready: number
  leased: number
  buffer_utilization: number
  acked_total: number
  redelivered_total: number
  leases_expired_total: number
}

// Partition states. WAITING: assigned, lock not (yet) held. OWNED: lock held, serving. DRAINING: lock
// held, no longer assigned: no new leases, waiting for its leases to end. RELEASING: unlock in flight.
const NONE = 0
const WAITING = 1
const OWNED = 2
const DRAINING = 3
const RELEASING = 4

// Gap checks: a mark remembers the cursors after a load; once every transaction that could still hold
// a lower id has ended (a later snapshot's xmin passes the mark's horizon), the range below those
// cursors is compared with memory once. MARK_MS spaces marks; SETTLE_MS covers the instant between a
// transaction's nextval and its xid assignment, which a snapshot cannot see.
const MARK_MS = 500
const SETTLE_MS = 100
const MAX_MARKS = 120
const FULL_SWEEP_MS = 30_000

interface Mark {
  t: number
  xmax: number
  horizon: number | undefined
  cursors: Float64Array
  epochs: Uint32Array
  /** A sweep forced while no mark could come due: loads what is visible, settles nothing. */
  forced?: boolean
}

interface AckWaiter {
  msgs: Msg[]
  resolve: (n: number) => void
  reject: (err: unknown) => void
}

interface LeaseWaiter {
  max: number
  visibilityMs: number
  resolve: (lease: Lease | null) => void
  timer: NodeJS.Timeout
}

/**
 * PartitionOwner owns everything a reader knows: which partitions it serves (fenced by advisory locks),
 * the ready messages per partition (FIFO by id), the leases, the load cursors and the pending acks.
 * Every state change is synchronous code between awaits, and the asynchronous work is serialised into
 * three loops (refill, lock reconcile, ack flush) that re-check state when their I/O returns: this object
 * is its own owner loop, so concurrent HTTP requests never interleave inside an operation.
 *
 * The database stays a dumb FIFO: SELECT to load, DELETE to ack. Nothing is written on lease or expiry;
 * if the reader dies, unacked rows are simply still there for the next owner.
 */
export class PartitionOwner {
  readonly name: string
  private readonly o: OwnerOptions
  private readonly locks: PartitionLocks

  private generation = -1
  private hasEntry = false
  private readonly desired = new Uint8Array(PARTITION_COUNT)
  private readonly state = new Uint8Array(PARTITION_COUNT)
  private readonly epoch = new Uint32Array(PARTITION_COUNT)
  private readonly cursor = new Float64Array(PARTITION_COUNT)
  private readonly settled = new Float64Array(PARTITION_COUNT)
  private readonly leasedCount = new Int32Array(PARTITION_COUNT)
  private readonly pendingCount = new Int32Array(PARTITION_COUNT)
  private readonly drainDeadline = new Float64Array(PARTITION_COUNT)
  private readonly queues: ReadyQueue[] = Array.from({ length: PARTITION_COUNT }, () => new ReadyQueue())
  private ownedList: number[] = []
  private rr = 0

  private readyTotal = 0
  private leasedTotal = 0
  private readonly leases = new Map<string, Lease>()
  /** Ids in memory (ready, leased, ack pending): what a gap check must not load again. */
  private readonly known = new Set<number>()
  private waiters: LeaseWaiter[] = []

  private loading = false
  private loadTimer: NodeJS.Timeout | undefined
  private nextLoadAt = 0
  private marks: Mark[] = []
  private dueGap: Mark | undefined
  private lastFullSweep = performance.now()

  private reconciling = false
  private reconcileAgain = false
  private lastReconcileWarn = -Infinity
  private readonly reconcileTimer: NodeJS.Timeout

  private ackBatch: AckWaiter[] = []
  private ackTimer: NodeJS.Timeout | undefined
  private acksInFlight = 0
  private idleWaiters: (() => void)[] = []

  private closing = false
  private closed = false

  acked = 0
  redelivered = 0
  leasesExpired = 0

  constructor(opts: OwnerOptions) {
    this.o = opts
    this.name = opts.name
    this.locks = new PartitionLocks(opts.databaseUrl, opts.name, () => this.onLocksLost(), opts.log)
    this.reconcileTimer = setInterval(() => {
      if (this.needsReconcile()) this.kickReconcile()
    }, opts.lockRetryMs)
    this.reconcileTimer.unref()
  }

  // ---------------------------------------------------------------- assignment

  /**
   * The one entry point of every assignment source (HTTP PUT, the assignment file, a ConfigMap watch).
   * An older generation than the one in force is refused; the same or a newer one replaces it.
   */
  applyAssignment(a: Assignment): AssignmentView {
    if (this.closing) throw new TpipeError('TPIPE_ERR_SHUTTING_DOWN')
    if (a.generation < this.generation) {
      throw new TpipeError('TPIPE_ERR_STALE_GENERATION', `generation ${a.generation} is older than the one in force (${this.generation})`)
    }
    this.generation = a.generation
    this.hasEntry = a.partitions !== null
    const want = new Uint8Array(PARTITION_COUNT)
    for (const p of a.partitions ?? []) want[p] = 1
    const now = performance.now()
    for (let p = 0; p < PARTITION_COUNT; p++) {
      if (want[p] === this.desired[p]) continue
      this.desired[p] = want[p]!
      const s = this.state[p]
      if (want[p]) {
        if (s === NONE) this.state[p] = WAITING
        else if (s === DRAINING) this.resume(p)
        // RELEASING: becomes WAITING when the unlock returns
      } else {
        if (s === WAITING) this.state[p] = NONE
        else if (s === OWNED) this.startDrain(p, now + this.o.drainTimeoutMs)
      }
    }
    this.rebuildOwned()
    this.kickReconcile()
    return this.view()
  }

  view(): AssignmentView {
    const owned: number[] = []
    const draining: number[] = []
    const waiting: number[] = []
    for (let p = 0; p < PARTITION_COUNT; p++) {
      const s = this.state[p]
      if (s === OWNED) owned.push(p)
      else if (s === DRAINING || s === RELEASING) draining.push(p)
      else if (s === WAITING) waiting.push(p)
    }
    return { reader: this.name, generation: this.generation, owned: formatPartitions(owned), draining: formatPartitions(draining), waiting: formatPartitions(waiting) }
  }

  /** Ready: the lock session is up, this reader has an assignment entry, and it is not shutting down. */
  get ready(): boolean {
    return !this.closing && this.hasEntry && this.locks.connected
  }

  get partitionsOwned(): number {
    return this.ownedList.length
  }

  get readyMessages(): number {
    return this.readyTotal
  }

  get leasedMessages(): number {
    return this.leasedTotal
  }

  utilization(): number {
    return Math.min(1, (this.readyTotal + this.leasedTotal) / this.o.maxMessages)
  }

  stats(): OwnerStats {
    return {
      reader: this.name,
      generation: this.generation,
      partitions_owned: this.ownedList.length,
      ready: this.readyTotal,
      leased: this.leasedTotal,
      buffer_utilization: this.utilization(),
      acked_total: this.acked,
      redelivered_total: this.redelivered,
      leases_expired_total: this.leasesExpired,
    }
  }

  private emit(type: OwnerEvent['type'], partition: number): void {
    this.o.onEvent?.({ type, reader: this.name, partition, at: performance.now() })
  }

  private rebuildOwned(): void {
    const list: number[] = []
    for (let p = 0; p < PARTITION_COUNT; p++) if (this.state[p] === OWNED) list.push(p)
    this.ownedList = list
  }

  private becomeOwned(p: number): void {
    this.state[p] = OWNED
    this.epoch[p]!++
    this.cursor[p] = 0
    this.settled[p] = 0
  }

  /** Lost partition: no new leases; ready messages leave memory (their rows stay for the next owner). */
  private startDrain(p: number, deadline: number): void {
    this.state[p] = DRAINING
    this.epoch[p]!++
    this.drainDeadline[p] = deadline
    for (const m of this.queues[p]!.clear()) {
      this.known.delete(m.id)
      this.readyTotal--
    }
  }

  /** Assigned again while draining: serve it again at once (the lock was never released). */
  private resume(p: number): void {
    this.state[p] = OWNED
    this.epoch[p]!++
    // Load from the start again; ids still leased are in `known` and are skipped, and anything dropped
    // meanwhile is below the cursor only until the next gap check.
    this.cursor[p] = 0
    this.settled[p] = 0
  }

  /** Drops every message of p from memory: ready ones and those still in leases (drain timeout, loss). */
  private dropPartition(p: number): void {
    for (const m of this.queues[p]!.clear()) {
      this.known.delete(m.id)
      this.readyTotal--
    }
    if (this.leasedCount[p]! > 0) {
      for (const lease of this.leases.values()) {
        const keep: Msg[] = []
        for (const m of lease.msgs) {
          if (m.partition === p) {
            this.known.delete(m.id)
            this.leasedTotal--
          } else keep.push(m)
        }
        lease.msgs = keep
        if (keep.length === 0) {
          clearTimeout(lease.timer)
          this.leases.delete(lease.id)
        }
      }
      this.leasedCount[p] = 0
    }
  }

  // ---------------------------------------------------------------- locks (fencing)

  private needsReconcile(): boolean {
    if (this.closed) return false
    if (!this.locks.connected) return this.desired.some((d) => d === 1) || this.closing
    for (let p = 0; p < PARTITION_COUNT; p++) if (this.state[p] === WAITING || this.state[p] === DRAINING) return true
    return false
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
        const now = performance.now()
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
    const now = performance.now()
    // Releases: drained partitions (or drain timed out).
    const release: number[] = []
    for (let p = 0; p < PARTITION_COUNT; p++) {
      if (this.state[p] !== DRAINING) continue
      if (this.leasedCount[p]! + this.pendingCount[p]! > 0 && now < this.drainDeadline[p]!) continue
      if (this.leasedCount[p]! > 0) this.o.log.warn({ partition: p, leased: this.leasedCount[p] }, 'drain timed out; releasing with leases out (they will be redelivered by the next owner)')
      this.dropPartition(p)
      this.state[p] = RELEASING
      // The event marks the end of service: emitted before the unlock is even sent.
      this.emit('released', p)
      release.push(p)
    }
    if (release.length > 0) {
      await this.locks.unlock(release)
      for (const p of release) if (this.state[p] === RELEASING) this.state[p] = this.desired[p] ? WAITING : NONE
    }
    // Acquisitions.
    const want: number[] = []
    for (let p = 0; p < PARTITION_COUNT; p++) if (this.state[p] === WAITING) want.push(p)
    if (want.length > 0 && !this.closing) {
      const got = await this.locks.tryLock(want)
      const giveBack: number[] = []
      for (const p of got) {
        if (this.state[p] === WAITING && this.desired[p]) {
          this.becomeOwned(p)
          this.emit('acquired', p)
        } else if (this.state[p] === NONE || this.state[p] === WAITING) giveBack.push(p)
      }
      if (giveBack.length > 0) await this.locks.unlock(giveBack)
      if (got.length > 0) {
        this.rebuildOwned()
        this.o.log.info({ acquired: formatPartitions(got) }, 'partitions acquired')
      }
    }
    this.kickLoad()
  }

  /** The lock session died: every lock is gone, so stop serving everything now and start over. */
  private onLocksLost(): void {
    for (let p = 0; p < PARTITION_COUNT; p++) {
      const s = this.state[p]
      if (s === OWNED || s === DRAINING || s === RELEASING) {
        this.emit('released', p)
        this.epoch[p]!++
        this.state[p] = this.desired[p] && !this.closing ? WAITING : NONE
      }
      this.queues[p]!.clear()
    }
    for (const lease of this.leases.values()) clearTimeout(lease.timer)
    this.leases.clear()
    this.leasedCount.fill(0)
    this.known.clear()
    this.readyTotal = 0
    this.leasedTotal = 0
    this.marks = []
    this.dueGap = undefined
    this.rebuildOwned()
  }

  // ---------------------------------------------------------------- refill

  private kickLoad(): void {
    if (this.loading || this.closing || this.loadTimer || this.ownedList.length === 0) return
    if (this.readyTotal >= this.o.lowWater && this.dueGap === undefined) return
    const room = this.o.maxMessages - this.readyTotal - this.leasedTotal
    if (room <= 0 && this.dueGap === undefined) return
    const wait = this.nextLoadAt - performance.now()
    if (wait > 0) {
      this.loadTimer = setTimeout(() => {
        this.loadTimer = undefined
        this.kickLoad()
      }, wait)
      return
    }
    this.loading = true
    void this.load(room)
      .catch((err: unknown) => {
        this.nextLoadAt = performance.now() + Math.max(this.o.refillIntervalMs, 1000)
        this.o.log.warn({ err: (err as Error).message }, 'refill failed; retrying')
      })
      .finally(() => {
        this.loading = false
        this.kickLoad()
      })
  }

  private makeMsg(row: unknown[], offset: number, ep: number): Msg {
    const partition = row[offset] as number
    const uuid = row[offset + 2] as string
    return {
      id: Number(row[offset + 1]),
      uuid,
      partition,
      head: `{"msg_uuid":"${uuid}","key":${JSON.stringify(row[offset + 3])},"partition":${partition},"payload":${row[offset + 4] as string},"enqueued_at":"${row[offset + 5] as string}","delivery_count":`,
      dc: 1,
      ep,
    }
  }

  private async load(room: number): Promise<void> {
    if (this.dueGap) {
      const mark = this.dueGap
      this.dueGap = undefined
      await this.gapCheck(mark)
    }
    room = this.o.maxMessages - this.readyTotal - this.leasedTotal
    if (room <= 0 || this.readyTotal >= this.o.lowWater) return
    const n = this.ownedList.length
    if (n === 0) return
    const start = this.rr++ % n
    const parts = this.ownedList.slice(start).concat(this.ownedList.slice(0, start))
    const lasts = parts.map((p) => this.cursor[p]!)
    const epochs = this.epoch.slice()
    const limit = Math.min(this.o.loadBatch, room)
    const perPartition = Math.min(limit, Math.max(256, Math.ceil((limit * 4) / n)))
    const r = await this.o.pool.query<unknown[]>(loadBatch(parts, lasts, perPartition, limit))
    let added = 0
    let rows = 0
    // A partition that filled its share may hold more: then the next refill must not wait.
    let capped = false
    let runPartition = -1
    let run = 0
    for (const row of r.rows) {
      if (row[2] === null) continue
      rows++
      const p = row[2] as number
      if (p !== runPartition) {
        runPartition = p
        run = 0
      }
      if (++run >= perPartition) capped = true
      if (this.state[p] !== OWNED || this.epoch[p] !== epochs[p]) continue
      const id = Number(row[3])
      if (id <= this.cursor[p]!) continue
      this.cursor[p] = id
      if (this.known.has(id)) continue
      this.queues[p]!.push(this.makeMsg(row, 2, this.epoch[p]!))
      this.known.add(id)
      added++
    }
    this.readyTotal += added
    this.nextLoadAt = rows < limit && !capped ? performance.now() + this.o.refillIntervalMs : 0
    const first = r.rows[0]
    if (first) this.noteSnapshot(Number(first[0]), Number(first[1]))
    if (added > 0) this.serveWaiters()
  }

  private noteSnapshot(xmin: number, xmax: number): void {
    const t = performance.now()
    let due: number | undefined
    for (let i = 0; i < this.marks.length; i++) {
      const m = this.marks[i]!
      if (m.horizon === undefined && t >= m.t + SETTLE_MS) m.horizon = xmax
      if (m.horizon !== undefined && xmin >= m.horizon) due = i
    }
    if (due !== undefined) {
      this.dueGap = this.marks[due]
      this.marks.splice(0, due + 1)
    }
    const last = this.marks[this.marks.length - 1]
    if (!last || t - last.t >= MARK_MS) this.marks.push({ t, xmax, horizon: undefined, cursors: this.cursor.slice(), epochs: this.epoch.slice() })
    // A long-running transaction anywhere in the cluster holds xmin back and no mark comes due. Later
    // marks cover earlier ranges, so thinning them only delays a check; it keeps memory bounded.
    if (this.marks.length > MAX_MARKS) this.marks.splice(1, 1)
    // No mark has come due for two sweep periods (a long transaction holds xmin back): sweep what is
    // visible below the cursors anyway, so rows committed out of order meanwhile are not kept waiting
    // for that transaction. Such a sweep settles nothing; the marks still do that when they come due.
    if (this.dueGap === undefined && t - this.lastFullSweep >= 2 * FULL_SWEEP_MS) {
      this.dueGap = { t, xmax, horizon: xmax, cursors: this.cursor.slice(), epochs: this.epoch.slice(), forced: true }
    }
  }

  /**
   * Rows committed out of id order (two writers' transactions interleave their ids) can become visible
   * below a cursor that already passed them. Once every transaction that could hold such an id has
   * ended, compare the ids stored below the mark's cursors with memory and load what is missing.
   */
  private async gapCheck(mark: Mark): Promise<void> {
    // Now and then the whole range below the cursor is checked, not just the unsettled part: a backstop
    // for anything the snapshot reasoning cannot see (it costs one id scan of what is in memory).
    const full = mark.t - this.lastFullSweep >= FULL_SWEEP_MS
    if (full) this.lastFullSweep = mark.t
    const parts: number[] = []
    const lows: number[] = []
    const highs: number[] = []
    for (const p of this.ownedList) {
      if (this.epoch[p] !== mark.epochs[p]) continue
      if (!full && mark.cursors[p]! <= this.settled[p]!) continue
      parts.push(p)
      lows.push(full ? 0 : this.settled[p]!)
      highs.push(mark.cursors[p]!)
    }
    if (parts.length === 0) return
    const r = await this.o.pool.query<unknown[]>(gapIds(parts, lows, highs))
    const missing: number[] = []
    for (const row of r.rows) {
      const id = Number(row[1])
      if (!this.known.has(id)) missing.push(id)
    }
    if (missing.length > 0) {
      const full = await this.o.pool.query<unknown[]>(rowsById(missing))
      const byPartition = new Map<number, Msg[]>()
      for (const row of full.rows) {
        const p = row[0] as number
        const id = Number(row[1])
        if (this.state[p] !== OWNED || this.epoch[p] !== mark.epochs[p] || this.known.has(id)) continue
        const m = this.makeMsg(row, 0, this.epoch[p]!)
        this.known.add(id)
        const list = byPartition.get(p) ?? []
        list.push(m)
        byPartition.set(p, list)
      }
      for (const [p, msgs] of byPartition) {
        this.queues[p]!.merge(msgs)
        this.readyTotal += msgs.length
      }
      if (byPartition.size > 0) {
        this.o.log.debug({ rows: missing.length }, 'gap check loaded rows committed out of id order')
        this.serveWaiters()
      }
    }
    if (mark.forced) return
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!
      if (this.epoch[p] === mark.epochs[p]) this.settled[p] = Math.max(this.settled[p]!, highs[i]!)
    }
  }

  // ---------------------------------------------------------------- leases

  /**
   * Leases up to `max` ready messages. With nothing ready and waitMs > 0, parks the request until
   * messages arrive or the wait ends (then null: an empty answer).
   */
  lease(max: number, visibilityMs: number, waitMs: number, signal?: AbortSignal): Promise<Lease | null> {
    if (this.closing) return Promise.reject(new TpipeError('TPIPE_ERR_SHUTTING_DOWN'))
    const l = this.take(max, visibilityMs)
    if (l || waitMs <= 0) return Promise.resolve(l)
    if (this.waiters.length >= this.o.maxWaiters) {
      return Promise.reject(new TpipeError('TPIPE_ERR_TOO_MANY_WAITERS', `${this.waiters.length} lease requests are already waiting`, { retryAfter: 1 }))
    }
    return new Promise((resolve) => {
      const w: LeaseWaiter = {
        max,
        visibilityMs,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w)
          resolve(null)
        }, waitMs),
      }
      this.waiters.push(w)
      signal?.addEventListener('abort', () => {
        // The client went away: leasing to it would only delay those messages by a visibility timeout.
        clearTimeout(w.timer)
        this.waiters = this.waiters.filter((x) => x !== w)
        resolve(null)
      })
      this.kickLoad()
    })
  }

  private take(max: number, visibilityMs: number): Lease | null {
    if (this.readyTotal === 0) return null
    const msgs: Msg[] = []
    const list = this.ownedList
    const n = list.length
    const start = n === 0 ? 0 : this.rr++ % n
    for (let i = 0; i < n && msgs.length < max; i++) {
      const p = list[(start + i) % n]!
      const q = this.queues[p]!
      if (q.length === 0) continue
      const k = q.takeInto(msgs, max - msgs.length)
      this.leasedCount[p]! += k
      if (this.o.onEvent) this.emit('leased', p)
    }
    if (msgs.length === 0) return null
    this.readyTotal -= msgs.length
    this.leasedTotal += msgs.length
    const id = randomUUID()
    const lease: Lease = {
      id,
      msgs,
      expiresAt: Date.now() + visibilityMs,
      timer: setTimeout(() => this.expire(id), visibilityMs),
    }
    this.leases.set(id, lease)
    this.kickLoad()
    return lease
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0 && this.readyTotal > 0) {
      const w = this.waiters.shift()!
      clearTimeout(w.timer)
      w.resolve(this.take(w.max, w.visibilityMs))
    }
  }

  private expire(id: string): void {
    const lease = this.leases.get(id)
    if (!lease) return
    this.leases.delete(id)
    this.leasesExpired++
    this.o.onCount?.('expired', 1)
    this.backToReady(lease.msgs, true)
    this.checkDrains()
  }

  /** Messages whose lease expired (or whose DELETE failed) become ready again, in id order. */
  private backToReady(msgs: Msg[], fromLease: boolean): void {
    const groups = new Map<number, Msg[]>()
    for (const m of msgs) {
      const p = m.partition
      if (fromLease) {
        this.leasedCount[p]!--
        this.leasedTotal--
      }
      // An older epoch in a partition we own again can only be a lease from before a drain that was
      // cancelled (resume): the lock was never released, the row is still queued, and the reload
      // skipped it while it was leased. It is ready again now, under the current epoch.
      if (this.state[p] === OWNED && this.epoch[p] !== m.ep && fromLease) m.ep = this.epoch[p]!
      if (this.state[p] === OWNED && this.epoch[p] === m.ep) {
        m.dc++
        const g = groups.get(p) ?? []
        g.push(m)
        groups.set(p, g)
      } else {
        // Not ours any more (or an older epoch): leave the row to whoever serves the partition now.
        this.known.delete(m.id)
      }
    }
    for (const [p, g] of groups) {
      this.queues[p]!.merge(g)
      this.readyTotal += g.length
      this.redelivered += g.length
      this.o.onCount?.('redelivered', g.length)
    }
    if (groups.size > 0) this.serveWaiters()
    this.kickLoad()
  }

  /**
   * Acks a lease (all of it, or the listed msg_uuids of it). Resolves with the number acked after the
   * DELETE holding them has committed; acks arriving within ackDelayMs share one DELETE.
   */
  ack(leaseId: string, uuids?: readonly string[]): Promise<number> {
    const lease = this.leases.get(leaseId)
    if (!lease) return Promise.reject(new TpipeError('TPIPE_ERR_LEASE_EXPIRED', `lease ${leaseId} is unknown or expired; its messages will be redelivered`))
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
    if (lease.msgs.length === 0) {
      clearTimeout(lease.timer)
      this.leases.delete(leaseId)
    }
    for (const m of acked) {
      this.leasedCount[m.partition]!--
      this.pendingCount[m.partition]!++
    }
    this.leasedTotal -= acked.length
    if (acked.length === 0) return Promise.resolve(0)
    return new Promise((resolve, reject) => {
      this.ackBatch.push({ msgs: acked, resolve, reject })
      if (this.ackTimer === undefined) this.ackTimer = setTimeout(() => void this.flushAcks(), this.o.ackDelayMs)
    })
  }

  private async flushAcks(): Promise<void> {
    this.ackTimer = undefined
    const batch = this.ackBatch
    this.ackBatch = []
    if (batch.length === 0) return
    const ids: number[] = []
    for (const w of batch) for (const m of w.msgs) ids.push(m.id)
    this.acksInFlight++
    try {
      await this.o.pool.query(deleteIds(ids))
      for (const w of batch) {
        for (const m of w.msgs) {
          this.pendingCount[m.partition]!--
          if (this.epoch[m.partition] === m.ep || this.state[m.partition] !== OWNED) this.known.delete(m.id)
        }
        this.acked += w.msgs.length
        this.o.onCount?.('acked', w.msgs.length)
        w.resolve(w.msgs.length)
      }
    } catch (err) {
      // Not deleted: the rows are still queued, so the messages must be delivered again (the collector
      // already persisted them; redelivery is harmless thanks to msg_uuid).
      const all: Msg[] = []
      for (const w of batch) for (const m of w.msgs) {
        this.pendingCount[m.partition]!--
        all.push(m)
      }
      this.backToReady(all, false)
      const e = isUnavailable(err)
        ? new TpipeError('TPIPE_ERR_DB_UNAVAILABLE', undefined, { retryAfter: 1, cause: err })
        : new TpipeError('TPIPE_ERR_INTERNAL', undefined, { cause: err })
      this.o.log.warn({ err: (err as Error).message }, 'ack DELETE failed; messages will be redelivered')
      for (const w of batch) w.reject(e)
    } finally {
      this.acksInFlight--
      this.checkDrains()
      this.kickLoad()
      if (this.acksInFlight === 0 && this.ackBatch.length === 0) for (const f of this.idleWaiters.splice(0)) f()
    }
  }

  private checkDrains(): void {
    for (let p = 0; p < PARTITION_COUNT; p++) {
      if (this.state[p] === DRAINING && this.leasedCount[p]! + this.pendingCount[p]! === 0) {
        this.kickReconcile()
        return
      }
    }
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Drain on shutdown: stop leasing, let outstanding leases be acked or expire (bounded by the drain
   * timeout), flush acks, release every lock. Unacked rows stay in the table for the next owner.
   */
  async shutdown(): Promise<void> {
    if (this.closing) return
    this.closing = true
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer)
      w.resolve(null)
    }
    const deadline = performance.now() + this.o.drainTimeoutMs
    this.desired.fill(0)
    for (let p = 0; p < PARTITION_COUNT; p++) {
      if (this.state[p] === OWNED) this.startDrain(p, deadline)
      else if (this.state[p] === WAITING) this.state[p] = NONE
    }
    this.rebuildOwned()
    this.kickReconcile()
    while (performance.now() < deadline + 2000) {
      let held = false
      for (let p = 0; p < PARTITION_COUNT && !held; p++) held = this.state[p] !== NONE
      if (!held || !this.locks.connected) break
      await new Promise((r) => setTimeout(r, 25))
      if (!this.reconciling) this.kickReconcile()
    }
    if (this.ackTimer !== undefined) {
      clearTimeout(this.ackTimer)
      void this.flushAcks()
    }
    if (this.acksInFlight > 0) await new Promise<void>((r) => this.idleWaiters.push(r))
    await this.close()
  }

  /** Immediate stop: timers off, lock session ended (the server releases the locks). */
  async close(): Promise<void> {
    this.closing = true
    this.closed = true
    clearInterval(this.reconcileTimer)
    clearTimeout(this.loadTimer)
    clearTimeout(this.ackTimer)
    for (const lease of this.leases.values()) clearTimeout(lease.timer)
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer)
      w.resolve(null)
    }
    await this.locks.close()
  }

  /** Test helper: the ready ids of a partition in queue order. */
  readyIds(p: number): number[] {
    return this.queues[p]!.ids()
  }
}

/** The lease answer, built as a string: payloads are spliced in as the raw JSON text loaded. */
export function renderLease(lease: Lease | null): string {
  if (!lease) return '{"lease_id":null,"expires_at":null,"messages":[]}'
  let s = `{"lease_id":"${lease.id}","expires_at":"${new Date(lease.expiresAt).toISOString()}","messages":[`
  const msgs = lease.msgs
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!
    s += i === 0 ? m.head + m.dc + '}' : ',' + m.head + m.dc + '}'
  }
  return s + ']}'
}
