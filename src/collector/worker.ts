// The collector's lease loops: `leasesInFlight` workers, each picking a reader, leasing, persisting the
// lease and acking it only after that commits. start() resolves once the readers are resolved the first
// time; stop() abandons long-polls and lets batches being persisted finish and ack (bounded).
import { setMaxListeners } from 'node:events'
import type { Logger } from 'pino'
import type { LeaseAnswer, LeaseRequest, LeasedMessage } from '../protocol/lease.js'
import type { CollectorMetrics } from './metrics.js'
import { requestAck, requestLease } from './reader-client.js'
import type { ReaderSet } from './readers.js'
import { sleep } from '../util/async.js'

export interface LeaseLoopOptions {
  leasesInFlight: number
  leaseSize: number
  /** Asked of the reader per lease; the reader's default when undefined. */
  leaseVisibilityMs: number | undefined
  errorBackoffMs: number
  resolveIntervalMs: number
  shutdownTimeoutMs: number
  readers: ReaderSet
  persist: (messages: readonly LeasedMessage[]) => Promise<void>
  metrics: CollectorMetrics
  log: Logger
  /** Sees every non-empty lease as received, before persisting. */
  onLease?: (messages: readonly LeasedMessage[]) => void
  /** TPIPE_QUEUE_TOKEN, sent with every lease and ack. */
  token?: string | undefined
}


export class LeaseLoops {
  private running = false
  private started: Promise<void> | undefined
  private stopping: Promise<void> | undefined
  private workers: Promise<void>[] = []
  private resolveTimer: NodeJS.Timeout | undefined
  private readonly leaseAbort = new AbortController()
  private persistFailStreak = 0

  constructor(private readonly o: LeaseLoopOptions) {
    // Each of the leasesInFlight long-polls listens on this one signal while it waits: more than 10 is
    // by design (the default limit would print a MaxListenersExceededWarning), not a leak.
    setMaxListeners(0, this.leaseAbort.signal)
  }

  get isRunning(): boolean {
    return this.running
  }

  start(): Promise<void> {
    const { readers, log } = this.o
    this.started ??= (async () => {
      await readers.refresh()
      this.running = true
      this.resolveTimer = setInterval(() => void readers.refresh().catch(() => {}), this.o.resolveIntervalMs)
      this.resolveTimer.unref()
      this.workers = Array.from({ length: this.o.leasesInFlight }, () => this.worker().catch((err: unknown) => log.error({ err }, 'collector loop failed')))
      log.info({ readers: readers.list.map((e) => e.origin), leasesInFlight: this.o.leasesInFlight }, 'collector started')
    })()
    return this.started
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.started) await this.started
      this.running = false
      clearInterval(this.resolveTimer)
      // Long-polls are abandoned (nothing was leased to them); batches being persisted finish and ack.
      this.leaseAbort.abort()
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.all(this.workers),
        new Promise<void>((r) => {
          timer = setTimeout(r, this.o.shutdownTimeoutMs)
        }),
      ])
      clearTimeout(timer)
      await this.o.readers.close()
    })()
    return this.stopping
  }

  private async worker(): Promise<void> {
    const { readers, metrics, log } = this.o
    while (this.running) {
      const pick = readers.pick()
      if ('sleepMs' in pick) {
        await sleep(Math.min(pick.sleepMs, 1000))
        continue
      }
      const { endpoint, waitMs } = pick
      let lease: LeaseAnswer
      try {
        const body: LeaseRequest = { max: this.o.leaseSize, wait_ms: waitMs }
        if (this.o.leaseVisibilityMs !== undefined) body.visibility_timeout_ms = this.o.leaseVisibilityMs
        const r = await requestLease(endpoint, body, waitMs > 0 ? this.leaseAbort.signal : undefined, this.o.token)
        if (r.status !== 200) {
          // 503 while a reader drains or has lost its database: try the others for a while.
          // Any other answer (400: a lease size over the reader's limit, 404: a wrong URL) will not fix
          // itself either: back off from that reader too instead of spinning on it.
          if (r.status < 500 && r.status !== 429) log.warn({ reader: endpoint.origin, status: r.status, body: r.body }, 'lease refused')
          readers.markFailed(endpoint)
          metrics.leaseErrors.inc()
          continue
        }
        lease = r.body
      } catch (err) {
        if (!this.running) break
        metrics.leaseErrors.inc()
        readers.markFailed(endpoint)
        log.debug({ reader: endpoint.origin, err: (err as Error).message }, 'lease request failed')
        continue
      }
      if (!lease.lease_id || lease.messages.length === 0) {
        readers.markEmpty(endpoint)
        continue
      }
      readers.markOk(endpoint)
      metrics.received.inc(lease.messages.length)
      this.o.onLease?.(lease.messages)
      try {
        await this.o.persist(lease.messages)
        this.persistFailStreak = 0
      } catch (err) {
        // Never ack what was not persisted: the lease expires and the messages come again.
        metrics.persistFailures.inc()
        this.persistFailStreak++
        log.warn({ err: (err as Error).message, messages: lease.messages.length }, 'persist failed; not acking (the lease will expire and be redelivered)')
        const backoff = this.o.errorBackoffMs
        await sleep(Math.min(backoff * 2 ** (this.persistFailStreak - 1), backoff * 20))
        continue
      }
      // One retry when the ack request itself fails (a reset connection): otherwise the whole lease
      // would be redelivered after its visibility timeout and persisted again (harmless, but wasted).
      // A retry of an ack that did land gets 409 (the lease is gone), which is fine.
      for (let attempt = 1; attempt <= 2; attempt++) {
        try {
          const r = await requestAck(endpoint, { lease_id: lease.lease_id }, this.o.token)
          if (r.status === 409) metrics.ackRejected.inc()
          else if (r.status !== 200) {
            metrics.leaseErrors.inc()
            log.warn({ reader: endpoint.origin, status: r.status, body: r.body }, 'ack refused; the messages will be redelivered (persisted already)')
          }
          break
        } catch (err) {
          metrics.leaseErrors.inc()
          log.debug({ reader: endpoint.origin, err: (err as Error).message, attempt }, 'ack request failed')
          if (attempt === 2) readers.markFailed(endpoint)
        }
      }
    }
  }
}
