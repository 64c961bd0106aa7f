// Every message a reader holds in memory, by where it is: ready (a FIFO per partition), leased, or
// ack pending (its DELETE not yet committed). Counts per partition and in all, and the ids known, which
// loads and gap checks must not bring in again. Pure bookkeeping: the loader, the lease book and the
// ack batcher move messages through it.
import { PARTITION_COUNT } from '../partitions/hash.js'
import { ReadyQueue, type Msg } from './queue.js'

export class MessageStore {
  private readonly queues: ReadyQueue[] = Array.from({ length: PARTITION_COUNT }, () => new ReadyQueue())
  private readonly known = new Set<number>()
  readonly leasedCount = new Int32Array(PARTITION_COUNT)
  readonly pendingCount = new Int32Array(PARTITION_COUNT)
  private ready = 0
  private leased = 0
  /** Bytes (Msg.bytes) of the ready and of the leased messages: what the reader's byte bound counts. */
  private readyB = 0
  private leasedB = 0

  get readyTotal(): number {
    return this.ready
  }

  /** Bytes of the ready and leased messages (their rendered heads): bounded by the reader's max bytes. */
  get heldBytes(): number {
    return this.readyB + this.leasedB
  }

  get leasedTotal(): number {
    return this.leased
  }

  isKnown(id: number): boolean {
    return this.known.has(id)
  }

  /** A freshly loaded message, appended to its partition's queue (loads come in id order). */
  addLoaded(m: Msg): void {
    this.queues[m.partition]!.push(m)
    this.known.add(m.id)
    this.ready++
    this.readyB += m.bytes
  }

  /** Messages of one partition coming in out of order (gap checks, redeliveries), merged by id. */
  mergeReady(p: number, msgs: Msg[]): void {
    for (const m of msgs) {
      this.known.add(m.id)
      this.readyB += m.bytes
    }
    this.queues[p]!.merge(msgs)
    this.ready += msgs.length
  }

  /** Drops p's ready messages (their rows stay queued for whoever serves p next). */
  clearReady(p: number): void {
    for (const m of this.queues[p]!.clear()) {
      this.known.delete(m.id)
      this.ready--
      this.readyB -= m.bytes
    }
  }

  /**
   * Takes up to max ready messages, walking `partitions` from index `start`, within `budget.bytes`
   * (at least one message whatever its size). They count as leased from now. `onPartition` sees each
   * partition that gave some.
   */
  take(partitions: readonly number[], start: number, max: number, budget: { bytes: number }, onPartition?: (p: number) => void): Msg[] {
    const msgs: Msg[] = []
    const n = partitions.length
    for (let i = 0; i < n && msgs.length < max; i++) {
      const p = partitions[(start + i) % n]!
      const q = this.queues[p]!
      if (q.length === 0) continue
      const k = q.takeInto(msgs, max - msgs.length, budget)
      if (k === 0) break // the byte budget is spent
      this.leasedCount[p]! += k
      onPartition?.(p)
    }
    this.ready -= msgs.length
    this.leased += msgs.length
    let b = 0
    for (const m of msgs) b += m.bytes
    this.readyB -= b
    this.leasedB += b
    return msgs
  }

  /** A leased message leaves its lease (expired or dropped): no longer counted as leased. */
  unlease(m: Msg): void {
    this.leasedCount[m.partition]!--
    this.leased--
    this.leasedB -= m.bytes
  }

  /** A leased message was acked: its DELETE is pending. */
  toPending(m: Msg): void {
    this.leasedCount[m.partition]!--
    this.pendingCount[m.partition]!++
    this.leased--
    this.leasedB -= m.bytes
  }

  /** Its DELETE returned (committed or failed). */
  pendingDone(m: Msg): void {
    this.pendingCount[m.partition]!--
  }

  forget(id: number): void {
    this.known.delete(id)
  }

  /** Leased or ack-pending messages of p. */
  outstanding(p: number): number {
    return this.leasedCount[p]! + this.pendingCount[p]!
  }

  /** Everything but the ack-pending counts (their DELETEs still return and count down). */
  clearAll(): void {
    for (const q of this.queues) q.clear()
    this.leasedCount.fill(0)
    this.known.clear()
    this.ready = 0
    this.leased = 0
    this.readyB = 0
    this.leasedB = 0
  }

  readyIds(p: number): number[] {
    return this.queues[p]!.ids()
  }
}
