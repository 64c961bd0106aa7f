import type { Logger } from 'pino'
import { PublishClient, TRANSIENT_STATUS } from '../http/publish-client.js'
import { uuidv7 } from '../util/ids.js'
import type { AckLog } from './acklog.js'
import type { PublishAnswer } from '../protocol/publish.js'

export { CONNECTION_MAX_AGE_MS, CONNECTION_MAX_REQUESTS } from '../http/publish-client.js'

export interface PublisherOptions {
  urls: readonly string[]
  inFlight: number
  timeoutMs: number
  maxBackoffMs: number
  /** TPIPE_PUBLISH_TOKEN, sent as a bearer token when set. */
  token?: string | undefined
  log: Logger
  ackLog?: AckLog | undefined
  onPublished?: () => void
  onRetry?: (reason: string) => void
  onRejected?: () => void
  /** Connection recycling (src/http/publish-client.ts): new connections after this many requests or this age. */
  connectionMaxRequests?: number
  connectionMaxAgeMs?: number
}

// 401/403: our token is missing or wrong (a configuration error, often fixed by a rollout): retry, never drop.
const RETRY_STATUS: ReadonlySet<number> = new Set([401, 403, ...TRANSIENT_STATUS])

/**
 * Publishes one message per request to mqwriter (through PublishClient: keep-alive pools, recycled
 * connections, retries), at most `inFlight` at a time. Each emission gets a fresh UUIDv7 `id` that every
 * retry reuses, so a publish whose answer was lost is retried without being stored twice. 429/503/5xx,
 * timeouts and refused connections are retried with exponential backoff (Retry-After wins when longer)
 * until answered or stopped; a 4xx other than 401/403/408/429 cannot succeed by retrying and is logged
 * and counted as rejected.
 */
export class Publisher {
  private readonly client: PublishClient
  private inFlight = 0
  private slotWaiters: (() => void)[] = []
  private idleWaiters: (() => void)[] = []

  constructor(private readonly opts: PublisherOptions) {
    // The same urls/timeouts/token/log/onRetry/recycling options; one connection per request in flight.
    this.client = new PublishClient({ ...opts, connections: opts.inFlight, retryStatus: RETRY_STATUS })
  }

  /** Pools replaced so far (connection recycling). */
  get recycled(): number {
    return this.client.recycled
  }

  get pending(): number {
    return this.inFlight
  }

  /** Resolves once the message has a slot and its publish has started (the caller's backpressure). */
  async send(key: string, payload: object): Promise<void> {
    while (this.inFlight >= this.opts.inFlight) await new Promise<void>((r) => this.slotWaiters.push(r))
    this.inFlight++
    void this.publish(key, payload).finally(() => {
      this.inFlight--
      this.slotWaiters.shift()?.()
      if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w()
    })
  }

  /** Resolves when every started publish has been answered (or given up after stop()). */
  async drain(): Promise<void> {
    if (this.inFlight === 0) return
    await new Promise<void>((r) => this.idleWaiters.push(r))
  }

  /** No new retries: publishes waiting to retry give up; requests already sent still get their answer. */
  stop(): void {
    this.client.stop()
  }

  async close(): Promise<void> {
    this.stop()
    await this.drain()
    await this.client.close()
  }

  private async publish(key: string, payload: object): Promise<void> {
    const id = uuidv7()
    const r = await this.client.post(JSON.stringify({ key, payload, id }), { retryMessage: 'publish failed; retrying with the same id' })
    if (r.outcome === 'created') {
      let ackId = id
      try {
        ackId = (JSON.parse(r.text) as Partial<PublishAnswer>).msg_uuids?.[0] ?? id
      } catch {
        // a 201 without the JSON answer: the id we sent is the one stored
      }
      this.opts.ackLog?.append(ackId)
      this.opts.onPublished?.()
    } else if (r.outcome === 'rejected') {
      this.opts.onRejected?.()
      this.opts.log.error({ status: r.status, answer: r.text.slice(0, 500), key, id }, 'mqwriter rejected a message; it cannot succeed by retrying')
    }
  }
}
