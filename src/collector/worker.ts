// The collector's lease loops: `leasesInFlight` workers, each picking a reader, leasing, persisting the
// lease and acking it only after that commits. start() resolves once the readers are resolved the first
// time; stop() abandons long-polls, lets batches being persisted finish and ack (bounded), then hands
// every lease still held back to its reader (POST /v1/release) so it is delivered again at once instead
// of after its visibility timeout. A reader that leaves the reader set gets the same: leases from it not
// yet being persisted are released, the ones being persisted are still acked through its open pool.
import { setMaxListeners } from 'node:events'
import type { Logger } from 'pino'
import type { LeaseAnswer, LeaseRequest, LeasedMessage } from '../protocol/lease.js'
import type { CollectorMetrics } from './metrics.js'
import { LeaseMessages } from './persist.js'
import { RELEASE_MAX_LEASES } from '../protocol/lease.js'
import { RELEASE_TIMEOUT_MS, requestAck, requestLease, requestRelease } from './reader-client.js'
import type { Endpoint, ReaderSet } from './readers.js'
import { sleep } from '../util/async.js'

export interface LeaseLoopOptions {
  leasesInFlight: number
  leaseSize: number
  /** max_bytes asked of the reader per lease. */
  leaseBytes?: number | undefined
  /** Asked of the reader per lease; the reader's default when undefined. */
  leaseVisibilityMs: number | undefined
  errorBackoffMs: number
  resolveIntervalMs: number
  /** The whole stop's bound: persists in flight get most of it, the release of what is left the rest. */
  shutdownTimeoutMs: number
  readers: ReaderSet
  /** Takes the messages (LeaseMessages: the worker keeps no reference to them while it waits). */
  persist: (messages: LeaseMessages) => Promise<void>
  metrics: CollectorMetrics
  log: Logger
  /** Sees every non-empty lease as received, before persisting. */
  onLease?: (messages: readonly LeasedMessage[]) => void
  /** TPIPE_QUEUE_TOKEN, sent with every lease and ack. */
  token?: string | undefined
}

/** A lease this collector holds: from its answer until it is acked, released, or expired. */
interface Held {
  readonly id: string
  readonly endpoint: Endpoint
  /** Wall-clock ms (the reader's expires_at): after it the reader has taken the lease back itself. */
  readonly expiresAt: number
  /** received: not being persisted yet; persisting/acking: in a worker's hands; failed: persist failed (left to expire). */
  phase: 'received' | 'persisting' | 'acking' | 'failed'
}

/** What a worker's lease variable holds once its messages are handed to persist. */
const EMPTY_LEASE: LeaseAnswer = { lease_id: null, expires_at: null, messages: [] }

/** How long a reader that left the set may take to settle the leases being persisted from it. */
const RETIRE_WAIT_MS = 30_000

export class LeaseLoops {
  private running = false
  private started: Promise<void> | undefined
  private stopping: Promise<void> | undefined
  private workers: Promise<void>[] = []
  private resolveTimer: NodeJS.Timeout | undefined
  private readonly leaseAbort = new AbortController()
  private persistFailStreak = 0
  private readonly held = new Map<string, Held>()

  constructor(private readonly o: LeaseLoopOptions) {
    // Each of the leasesInFlight long-polls listens on this one signal while it waits: more than 10 is
    // by design (the default limit would print a MaxListenersExceededWarning), not a leak.
    setMaxListeners(0, this.leaseAbort.signal)
    o.readers.onRetire((endpoint) => this.retire(endpoint))
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
      // Within the service's shutdown bound: the persists get most of it, the release keeps the rest.
      const releaseMs = Math.min(RELEASE_TIMEOUT_MS, Math.max(250, Math.floor(this.o.shutdownTimeoutMs / 3)))
      const persistMs = Math.max(0, this.o.shutdownTimeoutMs - releaseMs - 250)
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.all(this.workers),
        new Promise<void>((r) => {
          timer = setTimeout(r, persistMs)
        }),
      ])
      clearTimeout(timer)
      // What is still held was not persisted and acked in time (a hung persist, a failed one, an ack
      // that did not get through): hand it back now rather than leave it to the visibility timeout.
      // A persist that still commits later is harmless (ON CONFLICT (ts, msg_uuid) DO NOTHING).
      await this.release(() => true, 'collector stopping', releaseMs)
      await this.o.readers.close()
    })()
    return this.stopping
  }

  /**
   * A reader left the reader set: leases from it not being persisted go back to it now; those being
   * persisted are acked through its pool, which stays open until they are and until no lease request to
   * it is on its way (bounded by RETIRE_WAIT_MS, then whatever is left is released too).
   */
  private async retire(endpoint: Endpoint): Promise<void> {
    const mine = (h: Held) => h.endpoint === endpoint
    await this.release((h) => mine(h) && (h.phase === 'received' || h.phase === 'failed'), 'reader left the reader set')
    // A lease request on its way (a long-poll) may still bring a lease: the worker releases it, through
    // this pool, which must stay open until then.
    const deadline = Date.now() + RETIRE_WAIT_MS
    while (Date.now() < deadline && (endpoint.leasing > 0 || [...this.held.values()].some(mine))) await sleep(50)
    await this.release(mine, 'reader left the reader set')
  }

  /**
   * Hands the held leases that `which` selects back to their readers, one request per reader (bounded
   * by timeoutMs). They stop being held first: a persist still running for one of them is not acked.
   * A failed release is logged; those leases come back after their visibility timeout instead.
   */
  private async release(which: (h: Held) => boolean, why: string, timeoutMs = RELEASE_TIMEOUT_MS): Promise<void> {
    const now = Date.now()
    const byEndpoint = new Map<Endpoint, string[]>()
    for (const h of [...this.held.values()]) {
      if (!which(h)) continue
      this.held.delete(h.id)
      if (h.expiresAt <= now) continue // the reader has taken it back already
      const ids = byEndpoint.get(h.endpoint) ?? []
      ids.push(h.id)
      byEndpoint.set(h.endpoint, ids)
    }
    const { metrics, log } = this.o
    await Promise.all(
      [...byEndpoint].map(async ([endpoint, ids]) => {
        for (let i = 0; i < ids.length; i += RELEASE_MAX_LEASES) {
          const leaseIds = ids.slice(i, i + RELEASE_MAX_LEASES)
          try {
            const r = await requestRelease(endpoint, { lease_ids: leaseIds }, this.o.token, timeoutMs)
            if (r.status !== 200) throw new Error(`answered ${r.status}: ${JSON.stringify(r.body).slice(0, 200)}`)
            const body = r.body as { released_leases: number; released_messages: number; unknown: number }
            metrics.released.inc(body.released_messages)
            log.info({ reader: endpoint.origin, why, leases: body.released_leases, messages: body.released_messages, unknown: body.unknown }, 'leases released')
          } catch (err) {
            metrics.releaseFailures.inc()
            log.warn({ reader: endpoint.origin, why, leases: leaseIds.length, err: (err as Error).message }, 'release failed; those leases will be redelivered after their visibility timeout')
          }
        }
      }),
    )
  }

  /** Forgets held leases past their expiry (failed persists left to expire): the map stays small. */
  private pruneExpired(now = Date.now()): void {
    for (const h of this.held.values()) if (h.expiresAt <= now) this.held.delete(h.id)
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
      let leaseText: string
      try {
        const body: LeaseRequest = { max: this.o.leaseSize, wait_ms: waitMs }
        if (this.o.leaseBytes !== undefined && !endpoint.noMaxBytes) body.max_bytes = this.o.leaseBytes
        if (this.o.leaseVisibilityMs !== undefined) body.visibility_timeout_ms = this.o.leaseVisibilityMs
        endpoint.leasing++
        let r
        try {
          r = await requestLease(endpoint, body, waitMs > 0 ? this.leaseAbort.signal : undefined, this.o.token)
        } finally {
          endpoint.leasing--
        }
        if (r.status === 400 && body.max_bytes !== undefined) {
          // A reader older than max_bytes refuses the unknown field (a rolling upgrade): lease from it
          // without the bound (its own lease-max-bytes still applies) rather than not at all.
          endpoint.noMaxBytes = true
          log.warn({ reader: endpoint.origin, body: r.body }, 'reader refused max_bytes (an older version?): leasing from it without it')
          continue
        }
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
        leaseText = r.text
        // A local of the function lives on in its saved frame at every await: nothing but `messages` below
        // may keep the parsed lease.
        r = undefined
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
      const count = lease.messages.length
      metrics.received.inc(count)
      this.pruneExpired()
      const leaseId = lease.lease_id
      const held: Held = { id: leaseId, endpoint, expiresAt: Date.parse(lease.expires_at ?? '') || Date.now() + 30_000, phase: 'received' }
      this.held.set(leaseId, held)
      this.o.onLease?.(lease.messages)
      // From here on only persist holds the parsed messages (and drops them once its statement is built).
      const messages = new LeaseMessages(lease.messages, () => (JSON.parse(leaseText) as LeaseAnswer).messages)
      lease = EMPTY_LEASE
      // The reader left the set while this lease was on its way: hand it back instead of starting on it.
      if (endpoint.retired) {
        await this.release((h) => h === held, 'reader left the reader set')
        continue
      }
      held.phase = 'persisting'
      try {
        await this.o.persist(messages)
        this.persistFailStreak = 0
      } catch (err) {
        // Never ack what was not persisted: the lease expires and the messages come again (or is
        // released on stop). Not released now: while the database fails, the visibility timeout is
        // the backoff that keeps the messages from circling between collectors.
        held.phase = 'failed'
        metrics.persistFailures.inc()
        this.persistFailStreak++
        log.warn({ err: (err as Error).message, messages: count }, 'persist failed; not acking (the lease will expire and be redelivered)')
        const backoff = this.o.errorBackoffMs
        await sleep(Math.min(backoff * 2 ** (this.persistFailStreak - 1), backoff * 20))
        continue
      }
      // Released meanwhile (the stop's bound passed while this persist hung): the reader has handed the
      // messages out again; an ack would only get 409. The rows just written are harmless duplicates
      // of what the next persist writes (ON CONFLICT (ts, msg_uuid) DO NOTHING).
      if (this.held.get(leaseId) !== held) continue
      held.phase = 'acking'
      // One retry when the ack request itself fails (a reset connection): otherwise the whole lease
      // would be redelivered after its visibility timeout and persisted again (harmless, but wasted).
      // A retry of an ack that did land gets 409 (the lease is gone), which is fine.
      for (let attempt = 1; attempt <= 2; attempt++) {
        try {
          const r = await requestAck(endpoint, { lease_id: leaseId }, this.o.token)
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
      this.held.delete(leaseId)
    }
  }
}
