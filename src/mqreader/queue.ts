/** One message held in a reader's memory. */
export interface Msg {
  readonly id: number
  readonly uuid: string
  readonly partition: number
  /**
   * The message's JSON up to and including `"delivery_count":` as UTF-8, built once at load time with the
   * payload spliced in as the raw text PostgreSQL returned: a lease answer is a copy of these, never a
   * parse + stringify of the payloads.
   */
  readonly head: Buffer
  /** UTF-8 bytes of the rendered message (head, count, closing brace): what lease byte bounds count. */
  readonly bytes: number
  /** Deliveries so far, counting the one in progress. */
  deliveries: number
  /** The partition's ownership epoch the message was loaded under (stale epochs are dropped); moved
   * forward when a cancelled drain resumes. */
  loadEpoch: number
}

/**
 * A FIFO of ready messages of one partition, sorted by id (enqueue order). Loads append at the tail;
 * messages coming back from an expired lease or a gap check are merged in by id so order holds.
 */
export class ReadyQueue {
  private items: Msg[] = []
  private head = 0

  get length(): number {
    return this.items.length - this.head
  }

  push(m: Msg): void {
    this.items.push(m)
  }

  /**
   * Moves up to n messages from the front into out; returns how many. With a budget, stops before the
   * first message that does not fit its bytes (taken anyway when out is still empty: a message larger
   * than the bound goes alone rather than never) and takes what it moved off the budget.
   */
  takeInto(out: Msg[], n: number, budget?: { bytes: number }): number {
    let k = Math.min(n, this.length)
    if (budget) {
      for (let i = 0; i < k; i++) {
        const b = this.items[this.head + i]!.bytes
        if (b > budget.bytes && (out.length > 0 || i > 0)) {
          k = i
          break
        }
        budget.bytes -= b
      }
    }
    for (let i = 0; i < k; i++) out.push(this.items[this.head + i]!)
    this.head += k
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return k
  }

  /** Merges messages (any order) into the queue by id. */
  merge(msgs: Msg[]): void {
    if (msgs.length === 0) return
    const add = msgs.slice().sort((a, b) => a.id - b.id)
    const cur = this.items.slice(this.head)
    if (cur.length === 0 || add[add.length - 1]!.id < cur[0]!.id) {
      this.items = add.concat(cur)
      this.head = 0
      return
    }
    const out: Msg[] = new Array(cur.length + add.length)
    let i = 0
    let j = 0
    let k = 0
    while (i < cur.length && j < add.length) out[k++] = cur[i]!.id <= add[j]!.id ? cur[i++]! : add[j++]!
    while (i < cur.length) out[k++] = cur[i++]!
    while (j < add.length) out[k++] = add[j++]!
    this.items = out
    this.head = 0
  }

  /** Empties the queue and returns what it held. */
  clear(): Msg[] {
    const out = this.items.slice(this.head)
    this.items = []
    this.head = 0
    return out
  }

  ids(): number[] {
    return this.items.slice(this.head).map((m) => m.id)
  }
}
