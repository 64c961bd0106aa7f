import type { Logger } from 'pino'
import { PublishClient, TRANSIENT_STATUS } from '../http/publish-client.js'
import type { PublishMessage } from '../protocol/publish.js'
import type { TelemetryMessage } from '../scrape/dcgm.js'
import { bundleMessages } from '../protocol/bundle.js'

export interface BatchPublisherOptions {
  urls: readonly string[]
  /** Requests awaiting an answer at once. */
  inFlight: number
  timeoutMs: number
  maxBackoffMs: number
  /** Samples a bundle carries at most (TPIPE_BUNDLE_MAX; 1: no bundles). */
  bundleMax?: number | undefined
  /** Bearer token for mqwriter (TPIPE_PUBLISH_TOKEN). */
  token?: string | undefined
  log: Logger
  onRetry?: (reason: string) => void
  /** Connection recycling (src/http/publish-client.ts): new connections after this many requests or this age. */
  connectionMaxRequests?: number
  connectionMaxAgeMs?: number
}

export type PublishOutcome = 'published' | 'rejected' | 'abandoned'

/**
 * Publishes arrays of telemetry messages to mqwriter (POST /v1/publish), each message with its
 * content-derived id, at most `inFlight` requests at a time, through the streamer's PublishClient
 * (keep-alive pools recycled so new mqwriter replicas behind a Service get traffic). A retry sends the
 * very same body, so a publish whose answer was lost is stored once. 429/503/5xx, timeouts and refused
 * connections are retried with exponential backoff (Retry-After wins when longer) until answered, the
 * caller's deadline passes, or stop(); a 400/413 cannot succeed by retrying and is reported rejected.
 */
export class BatchPublisher {
  private readonly client: PublishClient
  private active = 0
  private readonly slotWaiters: (() => void)[] = []

  constructor(private readonly opts: BatchPublisherOptions) {
    // The same urls/timeouts/token/log/onRetry/recycling options; one connection per request in flight.
    this.client = new PublishClient({ ...opts, connections: opts.inFlight, retryStatus: TRANSIENT_STATUS })
  }

  get inFlight(): number {
    return this.active
  }

  /** Pools replaced so far (connection recycling). */
  get recycled(): number {
    return this.client.recycled
  }

  stop(): void {
    this.client.stop()
  }

  async close(): Promise<void> {
    await this.client.close()
  }

  /** Resolves when mqwriter committed the batch (201), refused it, or the deadline (ms epoch) passed. */
  async publish(messages: readonly TelemetryMessage[], deadline: number): Promise<PublishOutcome> {
    while (this.active >= this.opts.inFlight) await new Promise<void>((r) => this.slotWaiters.push(r))
    this.active++
    try {
      // A scrape's samples as bundles (src/protocol/bundle.ts): one queue row per 256 samples, not per sample.
      const r = await this.client.post(JSON.stringify(bundleMessages(messages, this.opts.bundleMax) satisfies readonly PublishMessage[]), { deadline, retryMessage: 'publish failed; retrying the same batch (same ids)' })
      if (r.outcome === 'created') return 'published'
      if (r.outcome === 'rejected') this.opts.log.error({ status: r.status, answer: r.text.slice(0, 500), messages: messages.length }, 'mqwriter refused a scrape batch; retrying cannot fix it')
      return r.outcome
    } finally {
      this.active--
      this.slotWaiters.shift()?.()
    }
  }
}
