// The partition state machine of one reader: pure (no I/O, no clock of its own), unit-tested in
// partition-state.test.ts. Every change of a partition's state goes through `move`, which asserts the
// transition is one of TRANSITIONS: an impossible one is a bug and throws instead of corrupting state.
//
//   none ──assign──▶ waiting ──lock taken──▶ owned ──unassign──▶ draining ──leases done──▶ releasing
//    ▲                 │  ▲                    ▲                    │                       │
//    └───unassign──────┘  └── unlocked (still assigned) ◀───────────┼───────────────────────┘
//    └──────────────────────── unlocked (not assigned) ◀────────────┘ (reassigned: draining → owned)
//   lock session lost: owned | draining | releasing → waiting (assigned) or none.
//
// The epoch of a partition changes whenever what it served may have changed (into or out of owned, or
// lost): work started under an older epoch (a load, a lease's messages) is recognised and dropped.
import { TpipeError } from '../errors.js'
import { PARTITION_COUNT } from '../partitions/hash.js'
import { formatPartitions } from '../partitions/ranges.js'
import type { Assignment, AssignmentView } from '../protocol/assignment.js'

export type PartitionState =
  /** Not assigned, lock not held. */
  | 'none'
  /** Assigned; lock not (yet) held. */
  | 'waiting'
  /** Lock held; serving (loads, leases). */
  | 'owned'
  /** Lock held, no longer assigned: no new leases, waiting for its leases and acks to end. */
  | 'draining'
  /** Unlock in flight. */
  | 'releasing'

export const TRANSITIONS: Readonly<Record<PartitionState, readonly PartitionState[]>> = {
  none: ['waiting'],
  waiting: ['none', 'owned'],
  owned: ['draining', 'waiting', 'none'],
  draining: ['owned', 'releasing', 'waiting', 'none'],
  releasing: ['waiting', 'none'],
}

export interface Transition {
  partition: number
  from: PartitionState
  to: PartitionState
}

const HELD: ReadonlySet<PartitionState> = new Set(['owned', 'draining', 'releasing'])

export class PartitionTable {
  private readonly states: PartitionState[] = new Array<PartitionState>(PARTITION_COUNT).fill('none')
  private readonly desired = new Uint8Array(PARTITION_COUNT)
  /** Per partition; see the header. Read by the loader and the lease book to drop stale work. */
  readonly epoch = new Uint32Array(PARTITION_COUNT)
  private readonly drainDeadline = new Float64Array(PARTITION_COUNT)
  private ownedList: number[] = []
  private gen = -1
  private entry = false

  constructor(readonly reader: string) {}

  state(p: number): PartitionState {
    return this.states[p]!
  }

  isOwned(p: number): boolean {
    return this.states[p] === 'owned'
  }

  isDesired(p: number): boolean {
    return this.desired[p] === 1
  }

  anyDesired(): boolean {
    return this.desired.some((d) => d === 1)
  }

  /** The partitions in state `owned`, ascending (what loads and leases walk). */
  get owned(): readonly number[] {
    return this.ownedList
  }

  get generation(): number {
    return this.gen
  }

  /** True once an assignment with an entry for this reader is in force. */
  get hasEntry(): boolean {
    return this.entry
  }

  /** Partitions in state s, ascending. */
  inState(s: PartitionState): number[] {
    const out: number[] = []
    for (let p = 0; p < PARTITION_COUNT; p++) if (this.states[p] === s) out.push(p)
    return out
  }

  /** True while some partition is in a state only the lock loop can move on (waiting, draining). */
  needsLockWork(): boolean {
    return this.states.some((s) => s === 'waiting' || s === 'draining')
  }

  /** Any partition whose lock is held or being released. */
  anyHeld(): boolean {
    return this.states.some((s) => s !== 'none' && s !== 'waiting')
  }

  private move(p: number, to: PartitionState, out?: Transition[], lost = false): void {
    const from = this.states[p]!
    if (!TRANSITIONS[from].includes(to)) throw new Error(`partition ${p}: no transition ${from} → ${to}`)
    this.states[p] = to
    if (lost || from === 'owned' || to === 'owned') this.epoch[p]!++
    out?.push({ partition: p, from, to })
  }

  private rebuildOwned(): void {
    const list: number[] = []
    for (let p = 0; p < PARTITION_COUNT; p++) if (this.states[p] === 'owned') list.push(p)
    this.ownedList = list
  }

  /**
   * A new assignment. An older generation than the one in force is refused; the same or a newer one
   * replaces it. Returns the transitions made (owned → draining ones carry the drain deadline given).
   */
  assign(a: Assignment, drainDeadline: number): Transition[] {
    if (a.generation < this.gen) {
      throw new TpipeError('TPIPE_ERR_STALE_GENERATION', `generation ${a.generation} is older than the one in force (${this.gen})`)
    }
    this.gen = a.generation
    this.entry = a.partitions !== null
    const want = new Uint8Array(PARTITION_COUNT)
    for (const p of a.partitions ?? []) want[p] = 1
    const out: Transition[] = []
    for (let p = 0; p < PARTITION_COUNT; p++) {
      if (want[p] === this.desired[p]) continue
      this.desired[p] = want[p]!
      const s = this.states[p]
      if (want[p]) {
        if (s === 'none') this.move(p, 'waiting', out)
        else if (s === 'draining') this.move(p, 'owned', out) // resume: the lock was never released
        // releasing: becomes waiting when the unlock returns
      } else if (s === 'waiting') this.move(p, 'none', out)
      else if (s === 'owned') {
        this.move(p, 'draining', out)
        this.drainDeadline[p] = drainDeadline
      }
    }
    this.rebuildOwned()
    return out
  }

  /** Shutting down: nothing is wanted any more; owned partitions drain (by the deadline), waiting ones stop. */
  unassignAll(drainDeadline: number): Transition[] {
    this.desired.fill(0)
    const out: Transition[] = []
    for (let p = 0; p < PARTITION_COUNT; p++) {
      if (this.states[p] === 'owned') {
        this.move(p, 'draining', out)
        this.drainDeadline[p] = drainDeadline
      } else if (this.states[p] === 'waiting') this.move(p, 'none', out)
    }
    this.rebuildOwned()
    return out
  }

  /**
   * The lock of p was taken. 'owned': p is served from now on. 'giveBack': p is no longer wanted, the
   * lock must be unlocked. 'ignore': p changed state meanwhile and there is nothing to do.
   */
  lockTaken(p: number): 'owned' | 'giveBack' | 'ignore' {
    const s = this.states[p]
    if (s === 'waiting' && this.desired[p]) {
      this.move(p, 'owned')
      this.rebuildOwned()
      return 'owned'
    }
    return s === 'none' || s === 'waiting' ? 'giveBack' : 'ignore'
  }

  /** True when p is draining and its drain deadline has passed at `now`. */
  drainExpired(p: number, now: number): boolean {
    return this.states[p] === 'draining' && now >= this.drainDeadline[p]!
  }

  /** p drained: its unlock is about to be sent. */
  beginRelease(p: number): void {
    this.move(p, 'releasing')
  }

  /** p's unlock returned: waiting again if it was assigned meanwhile, else none. */
  released(p: number): void {
    if (this.states[p] === 'releasing') this.move(p, this.desired[p] ? 'waiting' : 'none')
  }

  /** The lock session died, every lock with it: partitions held become waiting (still assigned) or none. */
  lost(closing: boolean): Transition[] {
    const out: Transition[] = []
    for (let p = 0; p < PARTITION_COUNT; p++) {
      if (HELD.has(this.states[p]!)) this.move(p, this.desired[p] && !closing ? 'waiting' : 'none', out, true)
    }
    this.rebuildOwned()
    return out
  }

  view(): AssignmentView {
    const owned: number[] = []
    const draining: number[] = []
    const waiting: number[] = []
    for (let p = 0; p < PARTITION_COUNT; p++) {
      const s = this.states[p]
      if (s === 'owned') owned.push(p)
      else if (s === 'draining' || s === 'releasing') draining.push(p)
      else if (s === 'waiting') waiting.push(p)
    }
    return { reader: this.reader, generation: this.gen, owned: formatPartitions(owned), draining: formatPartitions(draining), waiting: formatPartitions(waiting) }
  }
}
