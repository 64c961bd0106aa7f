// The loader: keeps the ready queues filled from queue_messages (refill) and catches rows committed out
// of id order below the cursors (gap checks). One load at a time; paced by refillIntervalMs when the
// table had nothing more, immediately again when a partition filled its share.
import type { Logger } from 'pino'
import type { Pool } from '../db/pool.js'
import { PARTITION_COUNT } from '../partitions/hash.js'
import { renderMessageHead } from '../protocol/lease.js'
import type { Clock, Timer } from './clock.js'
import type { PartitionTable } from './partition-state.js'
import type { Msg } from './queue.js'
import { gapIds, loadBatch, rowsById } from './sql.js'
import type { MessageStore } from './store.js'

export interface LoaderOptions {
  pool: Pool
  log: Logger
  clock: Clock
  maxMessages: number
  /** Bytes of ready and leased messages at most (MessageStore.heldBytes): refills stop short of it. */
  maxBytes: number
  lowWater: number
  loadBatch: number
  refillIntervalMs: number
  /** Messages became ready (waiting lease requests can be served). */
  onReady: () => void
}

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

/** A loaded row (rowMode array) from `offset`: partition, id, msg_uuid, key, payload text, enqueued_at. */
function makeMsg(row: unknown[], offset: number, loadEpoch: number): Msg {
  const partition = row[offset] as number
  const uuid = row[offset + 2] as string
  const { head, bytes } = renderMessageHead({
    msg_uuid: uuid,
    key: row[offset + 3] as string,
    partition,
    payloadJson: row[offset + 4] as string,
    enqueued_at: row[offset + 5] as string,
  })
  return { id: Number(row[offset + 1]), uuid, partition, head, bytes, deliveries: 1, loadEpoch }
}

export class Loader {
  /** Per partition: the highest id loaded (loads continue after it). */
  private readonly cursor = new Float64Array(PARTITION_COUNT)
  /** Per partition: ids up to this were compared with memory by a gap check. */
  private readonly settled = new Float64Array(PARTITION_COUNT)
  private loading = false
  private timer: Timer | undefined
  private nextLoadAt = 0
  private marks: Mark[] = []
  private dueGap: Mark | undefined
  private lastFullSweep: number
  private rotation = 0
  private closed = false

  constructor(
    private readonly table: PartitionTable,
    private readonly store: MessageStore,
    private readonly opts: LoaderOptions,
  ) {
    this.lastFullSweep = opts.clock.now()
  }

  /** p is (again) served under a new epoch: load it from the start; ids still in memory are skipped. */
  reset(p: number): void {
    this.cursor[p] = 0
    this.settled[p] = 0
  }

  /** Everything in memory is gone (lock session lost): pending marks describe nothing any more. */
  forgetMarks(): void {
    this.marks = []
    this.dueGap = undefined
  }

  close(): void {
    this.closed = true
    this.opts.clock.clearTimeout(this.timer)
  }

  /** Starts a load if the ready queues are below the low-water mark (or a gap check is due). */
  kick(): void {
    if (this.closed || this.loading || this.timer || this.table.owned.length === 0) return
    const store = this.store
    if (store.readyTotal >= this.opts.lowWater && this.dueGap === undefined) return
    const full = store.readyTotal + store.leasedTotal >= this.opts.maxMessages || store.heldBytes >= this.opts.maxBytes
    if (full && this.dueGap === undefined) return
    const clock = this.opts.clock
    const wait = this.nextLoadAt - clock.now()
    if (wait > 0) {
      this.timer = clock.setTimeout(() => {
        this.timer = undefined
        this.kick()
      }, wait)
      return
    }
    this.loading = true
    void this.load()
      .catch((err: unknown) => {
        this.nextLoadAt = clock.now() + Math.max(this.opts.refillIntervalMs, 1000)
        this.opts.log.warn({ err: (err as Error).message }, 'refill failed; retrying')
      })
      .finally(() => {
        this.loading = false
        this.kick()
      })
  }

  private async load(): Promise<void> {
    if (this.dueGap) {
      const mark = this.dueGap
      this.dueGap = undefined
      await this.gapCheck(mark)
    }
    const { store, table } = this
    const room = this.opts.maxMessages - store.readyTotal - store.leasedTotal
    const roomBytes = this.opts.maxBytes - store.heldBytes
    if (room <= 0 || roomBytes <= 0 || store.readyTotal >= this.opts.lowWater) return
    const owned = table.owned
    const n = owned.length
    if (n === 0) return
    const start = this.rotation++ % n
    const parts = owned.slice(start).concat(owned.slice(0, start))
    const lasts = parts.map((p) => this.cursor[p]!)
    const epochs = table.epoch.slice()
    const limit = Math.min(this.opts.loadBatch, room)
    const perPartition = Math.min(limit, Math.max(256, Math.ceil((limit * 4) / n)))
    const r = await this.opts.pool.query<unknown[]>(loadBatch(parts, lasts, perPartition, limit, roomBytes))
    let added = 0
    let rows = 0
    // A partition that filled its share may hold more, and so does a load cut short by the byte bound
    // (its last column): then the next refill must not wait.
    let capped = r.rows[0]?.[8] === true
    let runPartition = -1
    let run = 0
    const epoch = table.epoch
    for (const row of r.rows) {
      if (row[2] === null) continue
      rows++
      const p = row[2] as number
      if (p !== runPartition) {
        runPartition = p
        run = 0
      }
      if (++run >= perPartition) capped = true
      if (!table.isOwned(p) || epoch[p] !== epochs[p]) continue
      const id = Number(row[3])
      if (id <= this.cursor[p]!) continue
      this.cursor[p] = id
      if (store.isKnown(id)) continue
      store.addLoaded(makeMsg(row, 2, epoch[p]!))
      added++
    }
    this.nextLoadAt = rows < limit && !capped ? this.opts.clock.now() + this.opts.refillIntervalMs : 0
    const first = r.rows[0]
    if (first) this.noteSnapshot(Number(first[0]), Number(first[1]))
    if (added > 0) this.opts.onReady()
  }

  private noteSnapshot(xmin: number, xmax: number): void {
    const t = this.opts.clock.now()
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
    const epoch = this.table.epoch
    const last = this.marks[this.marks.length - 1]
    if (!last || t - last.t >= MARK_MS) this.marks.push({ t, xmax, horizon: undefined, cursors: this.cursor.slice(), epochs: epoch.slice() })
    // A long-running transaction anywhere in the cluster holds xmin back and no mark comes due. Later
    // marks cover earlier ranges, so thinning them only delays a check; it keeps memory bounded.
    if (this.marks.length > MAX_MARKS) this.marks.splice(1, 1)
    // No mark has come due for two sweep periods (a long transaction holds xmin back): sweep what is
    // visible below the cursors anyway, so rows committed out of order meanwhile are not kept waiting
    // for that transaction. Such a sweep settles nothing; the marks still do that when they come due.
    if (this.dueGap === undefined && t - this.lastFullSweep >= 2 * FULL_SWEEP_MS) {
      this.dueGap = { t, xmax, horizon: xmax, cursors: this.cursor.slice(), epochs: epoch.slice(), forced: true }
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
    const { store, table } = this
    const epoch = table.epoch
    const parts: number[] = []
    const lows: number[] = []
    const highs: number[] = []
    for (const p of table.owned) {
      if (epoch[p] !== mark.epochs[p]) continue
      if (!full && mark.cursors[p]! <= this.settled[p]!) continue
      parts.push(p)
      lows.push(full ? 0 : this.settled[p]!)
      highs.push(mark.cursors[p]!)
    }
    if (parts.length === 0) return
    const r = await this.opts.pool.query<unknown[]>(gapIds(parts, lows, highs))
    const missing: number[] = []
    for (const row of r.rows) {
      const id = Number(row[1])
      if (!store.isKnown(id)) missing.push(id)
    }
    if (missing.length > 0) {
      const rows = await this.opts.pool.query<unknown[]>(rowsById(missing))
      const byPartition = new Map<number, Msg[]>()
      const seen = new Set<number>()
      for (const row of rows.rows) {
        const p = row[0] as number
        const id = Number(row[1])
        if (!table.isOwned(p) || epoch[p] !== mark.epochs[p] || store.isKnown(id) || seen.has(id)) continue
        seen.add(id)
        const list = byPartition.get(p) ?? []
        list.push(makeMsg(row, 0, epoch[p]!))
        byPartition.set(p, list)
      }
      for (const [p, msgs] of byPartition) store.mergeReady(p, msgs)
      if (byPartition.size > 0) {
        this.opts.log.debug({ rows: missing.length }, 'gap check loaded rows committed out of id order')
        this.opts.onReady()
      }
    }
    if (mark.forced) return
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!
      if (epoch[p] === mark.epochs[p]) this.settled[p] = Math.max(this.settled[p]!, highs[i]!)
    }
  }
}
