// The ack batcher: acks arriving within ackDelayMs share one DELETE; each ack answers once the DELETE
// holding its messages has committed. A failed DELETE gives the messages back to be delivered again.
import type { Logger } from 'pino'
import type { Pool } from '../db/pool.js'
import { isUnavailable } from '../db/errors.js'
import { TpipeError } from '../errors.js'
import type { Clock, Timer } from './clock.js'
import type { PartitionTable } from './partition-state.js'
import type { Msg } from './queue.js'
import { deleteIds } from './sql.js'
import type { MessageStore } from './store.js'

export interface AckBatcherOptions {
  pool: Pool
  log: Logger
  clock: Clock
  ackDelayMs: number
  onCount?: (what: 'acked', n: number) => void
  /** The DELETE failed: these messages are to be delivered again. */
  onFailed: (msgs: Msg[]) => void
  /** A DELETE returned (either way): drains may be done, the buffer has room. */
  onSettled: () => void
}

interface AckWaiter {
  msgs: Msg[]
  resolve: (n: number) => void
  reject: (err: unknown) => void
}

export class AckBatcher {
  private batch: AckWaiter[] = []
  private timer: Timer | undefined
  private inFlight = 0
  private idleWaiters: (() => void)[] = []
  acked = 0

  constructor(
    private readonly table: PartitionTable,
    private readonly store: MessageStore,
    private readonly opts: AckBatcherOptions,
  ) {}

  /** Queues the messages' DELETE; resolves with their number once it has committed. */
  add(msgs: Msg[]): Promise<number> {
    if (msgs.length === 0) return Promise.resolve(0)
    return new Promise((resolve, reject) => {
      this.batch.push({ msgs, resolve, reject })
      if (this.timer === undefined) this.timer = this.opts.clock.setTimeout(() => void this.flush(), this.opts.ackDelayMs)
    })
  }

  private async flush(): Promise<void> {
    this.timer = undefined
    const batch = this.batch
    this.batch = []
    if (batch.length === 0) return
    const ids: number[] = []
    for (const w of batch) for (const m of w.msgs) ids.push(m.id)
    this.inFlight++
    try {
      await this.opts.pool.query(deleteIds(ids))
      const epoch = this.table.epoch
      for (const w of batch) {
        for (const m of w.msgs) {
          this.store.pendingDone(m)
          if (epoch[m.partition] === m.loadEpoch || !this.table.isOwned(m.partition)) this.store.forget(m.id)
        }
        this.acked += w.msgs.length
        this.opts.onCount?.('acked', w.msgs.length)
        w.resolve(w.msgs.length)
      }
    } catch (err) {
      // Not deleted: the rows are still queued, so the messages must be delivered again (the collector
      // already persisted them; redelivery is harmless thanks to msg_uuid).
      const all: Msg[] = []
      for (const w of batch) {
        for (const m of w.msgs) {
          this.store.pendingDone(m)
          all.push(m)
        }
      }
      this.opts.onFailed(all)
      const e = isUnavailable(err)
        ? new TpipeError('TPIPE_ERR_DB_UNAVAILABLE', undefined, { retryAfter: 1, cause: err })
        : new TpipeError('TPIPE_ERR_INTERNAL', undefined, { cause: err })
      this.opts.log.warn({ err: (err as Error).message }, 'ack DELETE failed; messages will be redelivered')
      for (const w of batch) w.reject(e)
    } finally {
      this.inFlight--
      this.opts.onSettled()
      if (this.inFlight === 0 && this.batch.length === 0) for (const f of this.idleWaiters.splice(0)) f()
    }
  }

  /** Sends what is batched now and resolves once no DELETE is in flight (shutdown). */
  async flushNow(): Promise<void> {
    if (this.timer !== undefined) {
      this.opts.clock.clearTimeout(this.timer)
      void this.flush()
    }
    if (this.inFlight > 0) await new Promise<void>((r) => this.idleWaiters.push(r))
  }

  close(): void {
    this.opts.clock.clearTimeout(this.timer)
  }
}
