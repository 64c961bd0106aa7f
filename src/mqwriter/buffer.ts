import { withTransaction, type Pool } from '../db/pool.js'
import { isDataError, isUnavailable } from '../db/errors.js'
import { TpipeError } from '../errors.js'
import { insertBatch, insertOne, rowBytes, type QueueRow } from './sql.js'

export interface WriteBufferOptions {
  batchSize: number
  flushIntervalMs: number
  capacity: number
  /** Bytes (serialised payloads) a batch holds at most: it is sealed when it reaches them. */
  batchBytes: number
  /** Bytes buffered or being flushed at most; beyond it publishes get 429 like a full buffer. */
  capacityBytes: number
  flushConcurrency: number
  retryAfterSeconds: number
  onFlush?: (rows: number, messages: number, seconds: number) => void
  onUnavailable?: (err: unknown) => void
  onError?: (err: unknown) => void
}

interface Waiter {
  rows: QueueRow[]
  bytes: number
  resolve: () => void
  reject: (err: unknown) => void
}

interface Batch {
  rows: QueueRow[]
  waiters: Waiter[]
  bytes: number
  /** Messages its rows carry (a bundle row counts its members). */
  messages: number
  /** When its flush started (0 until then): a flush older than the publish timeout means stuck. */
  startedAt: number
}

const emptyBatch = (): Batch => ({ rows: [], waiters: [], bytes: 0, messages: 0, startedAt: 0 })

/**
 * WriteBuffer owns the mqwriter's buffer: every publish lands in the open batch; a batch is sealed when
 * it reaches batchSize, when a flush slot is free and the batch is flushIntervalMs old, or the moment a
 * flush finishes while messages wait — and is written in one INSERT.
 * A publish resolves only after the transaction holding it has committed (group commit): a success
 * answer means the message is durable. Up to flushConcurrency batches commit at once while the next
 * one fills. All state changes happen synchronously between awaits, so this object is its own owner
 * loop: no locks, no interleaving inside an operation.
 */
export class WriteBuffer {
  private open: Batch = emptyBatch()
  private sealed: Batch[] = []
  private inFlight = 0
  private flushing = new Set<Batch>()
  /** Messages accepted and not yet committed or failed (open + sealed + flushing); a bundle row counts its members. */
  private held = 0
  /** Their bytes (serialised payloads): bounded by capacityBytes, so memory is bounded by configuration. */
  private heldBytes = 0
  private timer: NodeJS.Timeout | undefined
  private closed = false
  private healthy = true
  private idleWaiters: (() => void)[] = []

  constructor(
    private readonly pool: Pool,
    private readonly opts: WriteBufferOptions,
  ) {}

  /** 0..1: the HPA signal. */
  utilization(): number {
    return Math.min(1, this.held / this.opts.capacity)
  }

  get pending(): number {
    return this.held
  }

  get pendingBytes(): number {
    return this.heldBytes
  }

  /** Milliseconds the oldest flush in flight has been running (0 when none is). */
  oldestFlushAgeMs(now = Date.now()): number {
    let oldest = 0
    for (const b of this.flushing) oldest = Math.max(oldest, now - b.startedAt)
    return oldest
  }

  /** False after a flush failed because the database was unreachable, until one succeeds again. */
  get databaseHealthy(): boolean {
    return this.healthy
  }

  markHealthy(): void {
    this.healthy = true
  }

  /**
   * Accepts rows for the next flush; resolves when they are committed. Throws (synchronously, as a
   * rejected promise) 429 when the buffer is full, 503 when closing or the database is known down.
   */
  publish(rows: QueueRow[]): Promise<void> {
    if (this.closed) return Promise.reject(new TpipeError('TPIPE_ERR_SHUTTING_DOWN'))
    if (!this.healthy) {
      return Promise.reject(new TpipeError('TPIPE_ERR_DB_UNAVAILABLE', undefined, { retryAfter: this.opts.retryAfterSeconds }))
    }
    let messages = 0
    for (const r of rows) messages += r.members ?? 1
    if (this.held + messages > this.opts.capacity) {
      return Promise.reject(
        new TpipeError('TPIPE_ERR_BUFFER_FULL', `buffer full (${this.held}/${this.opts.capacity} messages); retry after ${this.opts.retryAfterSeconds}s`, {
          retryAfter: this.opts.retryAfterSeconds,
        }),
      )
    }
    let bytes = 0
    for (const r of rows) bytes += rowBytes(r)
    // An empty buffer always takes one publish (it is under the body limit), so nothing is refused forever.
    if (this.heldBytes > 0 && this.heldBytes + bytes > this.opts.capacityBytes) {
      return Promise.reject(
        new TpipeError('TPIPE_ERR_BUFFER_FULL', `buffer full (${this.heldBytes}/${this.opts.capacityBytes} bytes); retry after ${this.opts.retryAfterSeconds}s`, {
          retryAfter: this.opts.retryAfterSeconds,
        }),
      )
    }
    return new Promise<void>((resolve, reject) => {
      this.held += messages
      this.heldBytes += bytes
      // A batch never grows past its byte bound: seal the open one first if this publish would.
      if (this.open.rows.length > 0 && this.open.bytes + bytes > this.opts.batchBytes) this.seal()
      const batch = this.open
      for (const r of rows) batch.rows.push(r)
      batch.bytes += bytes
      batch.messages += messages
      batch.waiters.push({ rows, bytes, resolve, reject })
      if (batch.rows.length >= this.opts.batchSize || batch.bytes >= this.opts.batchBytes) {
        this.seal()
      } else if (this.timer === undefined && this.inFlight < this.opts.flushConcurrency) {
        // A flush slot is free: give the batch at most flushIntervalMs to fill (0 = this event-loop
        // turn). When every slot is busy no timer is needed: the batch grows until a flush finishes
        // and pump() sends it — natural batching, so load makes batches bigger instead of slower.
        this.timer =
          this.opts.flushIntervalMs > 0
            ? setTimeout(() => this.onTimer(), this.opts.flushIntervalMs)
            : (setImmediate(() => this.onTimer()) as unknown as NodeJS.Timeout)
      }
    })
  }

  private onTimer(): void {
    this.timer = undefined
    this.seal()
  }

  private seal(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      clearImmediate(this.timer as unknown as NodeJS.Immediate)
      this.timer = undefined
    }
    if (this.open.rows.length === 0) return
    this.sealed.push(this.open)
    this.open = emptyBatch()
    this.pump()
  }

  private pump(): void {
    // A slot is free and messages are waiting in the open batch: they have waited at least one flush.
    if (this.sealed.length === 0 && this.open.rows.length > 0 && this.inFlight < this.opts.flushConcurrency) {
      this.sealed.push(this.open)
      this.open = emptyBatch()
      if (this.timer !== undefined) {
        clearTimeout(this.timer)
        clearImmediate(this.timer as unknown as NodeJS.Immediate)
        this.timer = undefined
      }
    }
    while (this.inFlight < this.opts.flushConcurrency && this.sealed.length > 0) {
      const batch = this.sealed.shift()!
      this.inFlight++
      batch.startedAt = Date.now()
      this.flushing.add(batch)
      void this.flush(batch).finally(() => {
        this.inFlight--
        this.flushing.delete(batch)
        this.held -= batch.messages
        this.heldBytes -= batch.bytes
        this.pump()
        if (this.held === 0) for (const w of this.idleWaiters.splice(0)) w()
      })
    }
  }

  private async flush(batch: Batch): Promise<void> {
    const started = process.hrtime.bigint()
    try {
      const statements = insertBatch(batch.rows)
      if (statements.length === 1) await this.pool.query(statements[0]!)
      else
        await withTransaction(this.pool, async (client) => {
          for (const st of statements) await client.query(st)
        })
      this.healthy = true
      this.opts.onFlush?.(batch.rows.length, batch.messages, Number(process.hrtime.bigint() - started) / 1e9)
      for (const w of batch.waiters) w.resolve()
    } catch (err) {
      if (isUnavailable(err)) {
        this.healthy = false
        this.opts.onUnavailable?.(err)
        const e = new TpipeError('TPIPE_ERR_DB_UNAVAILABLE', undefined, { retryAfter: this.opts.retryAfterSeconds, cause: err })
        for (const w of batch.waiters) w.reject(e)
        return
      }
      if (!isDataError(err)) {
        // Transient (deadlock, cancelled statement, out of memory…): not the producers' fault → 503.
        this.opts.onError?.(err)
        const e = new TpipeError('TPIPE_ERR_DB_UNAVAILABLE', undefined, { retryAfter: this.opts.retryAfterSeconds, cause: err })
        for (const w of batch.waiters) w.reject(e)
        return
      }
      // A data error fails the whole statement: find the bad publishes one by one so that good ones
      // in the same batch still succeed and only the bad ones get a 400.
      this.opts.onError?.(err)
      await this.isolate(batch)
    }
  }

  private async isolate(batch: Batch): Promise<void> {
    for (let i = 0; i < batch.waiters.length; i++) {
      const w = batch.waiters[i]!
      try {
        // One transaction per publish: an array publish is stored whole or not at all.
        await withTransaction(this.pool, async (client) => {
          for (const r of w.rows) {
            try {
              await client.query(insertOne(r))
            } catch (err) {
              if (!isDataError(err)) throw err
              throw new TpipeError('TPIPE_ERR_VALIDATION', `message ${r.msg_uuid} (key ${JSON.stringify(r.key)}) cannot be stored: ${(err as Error).message}`)
            }
          }
        })
        w.resolve()
      } catch (err) {
        if (err instanceof TpipeError) {
          w.reject(err)
          continue
        }
        // Not bad data: the database is down or the error is transient. Nothing of the rest is tried
        // (each try could wait for a connect timeout); every remaining publish gets 503 and is retried.
        if (isUnavailable(err)) this.healthy = false
        const e = new TpipeError('TPIPE_ERR_DB_UNAVAILABLE', undefined, { retryAfter: this.opts.retryAfterSeconds, cause: err })
        for (const rest of batch.waiters.slice(i)) rest.reject(e)
        return
      }
    }
  }

  /** Stops accepting, flushes everything buffered, and resolves when every flush has finished. */
  async close(): Promise<void> {
    this.closed = true
    this.seal()
    if (this.held === 0) return
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }
}
