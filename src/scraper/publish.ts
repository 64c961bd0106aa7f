import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { Pool } from 'undici'
import type { PublishMessage } from '../protocol/publish.js'
import type { TelemetryMessage } from '../scrape/dcgm.js'

export interface BatchPublisherOptions {
  urls: readonly string[]
  /** Requests awaiting an answer at once. */
  inFlight: number
  timeoutMs: number
  maxBackoffMs: number
  /** Bearer token for mqwriter (TPIPE_PUBLISH_TOKEN). */
  token?: string | undefined
  log: Logger
  onRetry?: (reason: string) => void
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504])

export type PublishOutcome = 'published' | 'rejected' | 'abandoned'

/**
 * Publishes arrays of telemetry messages to mqwriter (POST /v1/publish), each message with its
 * content-derived id, at most `inFlight` requests at a time over keep-alive pools. A retry sends the
 * very same body, so a publish whose answer was lost is stored once. 429/503/5xx, timeouts and refused
 * connections are retried with exponential backoff (Retry-After wins when longer) until answered, the
 * caller's deadline passes, or stop(); a 400/413 cannot succeed by retrying and is reported rejected.
 */
export class BatchPublisher {
  private readonly targets: { pool: Pool; path: string; url: string }[]
  private next = 0
  private active = 0
  private readonly slotWaiters: (() => void)[] = []
  private readonly stopping = new AbortController()
  private lastWarn = 0

  constructor(private readonly opts: BatchPublisherOptions) {
    if (opts.urls.length === 0) throw new Error('no mqwriter URL')
    this.targets = opts.urls.map((u) => {
      const url = new URL(u)
      return {
        url: u,
        path: `${url.pathname.replace(/\/$/, '')}/v1/publish`,
        pool: new Pool(url.origin, { connections: opts.inFlight, pipelining: 1, keepAliveTimeout: 30_000 }),
      }
    })
  }

  get inFlight(): number {
    return this.active
  }

  stop(): void {
    this.stopping.abort()
  }

  async close(): Promise<void> {
    this.stop()
    await Promise.all(this.targets.map((t) => t.pool.close()))
  }

  /** Resolves when mqwriter committed the batch (201), refused it, or the deadline (ms epoch) passed. */
  async publish(messages: readonly TelemetryMessage[], deadline: number): Promise<PublishOutcome> {
    while (this.active >= this.opts.inFlight) await new Promise<void>((r) => this.slotWaiters.push(r))
    this.active++
    try {
      return await this.send(messages, deadline)
    } finally {
      this.active--
      this.slotWaiters.shift()?.()
    }
  }

  private warn(obj: object, msg: string): void {
    const now = Date.now()
    if (now - this.lastWarn < 5000) return
    this.lastWarn = now
    this.opts.log.warn(obj, msg)
  }

  private async send(messages: readonly TelemetryMessage[], deadline: number): Promise<PublishOutcome> {
    const body = JSON.stringify(messages satisfies readonly PublishMessage[])
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`
    for (let attempt = 0; ; attempt++) {
      if (this.stopping.signal.aborted) return 'abandoned'
      const target = this.targets[this.next++ % this.targets.length]!
      let retryAfterMs = 0
      let reason: string
      try {
        const res = await target.pool.request({
          path: target.path,
          method: 'POST',
          headers,
          body,
          headersTimeout: this.opts.timeoutMs,
          bodyTimeout: this.opts.timeoutMs,
        })
        const text = await res.body.text()
        if (res.statusCode === 201) return 'published'
        if (!RETRY_STATUS.has(res.statusCode)) {
          this.opts.log.error({ status: res.statusCode, answer: text.slice(0, 500), messages: messages.length }, 'mqwriter refused a scrape batch; retrying cannot fix it')
          return 'rejected'
        }
        const ra = Number(res.headers['retry-after'])
        if (Number.isFinite(ra) && ra > 0) retryAfterMs = ra * 1000
        reason = res.statusCode >= 500 && res.statusCode !== 503 ? '5xx' : String(res.statusCode)
        this.warn({ status: res.statusCode, url: target.url }, 'mqwriter asked to retry')
      } catch (err) {
        const code = (err as { code?: string }).code ?? ''
        reason = /TIMEOUT/.test(code) ? 'timeout' : 'connection'
        this.warn({ err: (err as Error).message, code, url: target.url }, 'publish failed; retrying the same batch (same ids)')
      }
      this.opts.onRetry?.(reason)
      const backoff = Math.min(this.opts.maxBackoffMs, 50 * 2 ** Math.min(attempt, 16))
      const delay = Math.max(retryAfterMs, backoff * (0.5 + Math.random() / 2))
      if (Date.now() + delay > deadline) return 'abandoned'
      try {
        await sleep(delay, undefined, { signal: this.stopping.signal })
      } catch {
        return 'abandoned'
      }
    }
  }
}
