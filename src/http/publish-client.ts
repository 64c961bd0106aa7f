// The one client both publishers to mqwriter use (the streamer's Publisher and the scraper's
// BatchPublisher): keep-alive undici pools over the mqwriter URLs in turn, connection recycling, and the
// retry loop (exponential backoff with jitter, Retry-After when longer, one warning per few seconds).
// Each caller builds its own body and decides what an answer means; a retry sends the very same body.
import { setMaxListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { Pool } from 'undici'
import { authHeader } from './auth.js'

export interface PublishClientOptions {
  urls: readonly string[]
  /** Connections per pool (the caller's requests in flight). */
  connections: number
  timeoutMs: number
  maxBackoffMs: number
  /** TPIPE_PUBLISH_TOKEN, sent as a bearer token when set. */
  token?: string | undefined
  log: Logger
  /** Statuses worth retrying; any other non-201 answer is final ("rejected"). */
  retryStatus: ReadonlySet<number>
  onRetry?: ((reason: string) => void) | undefined
  /**
   * Connection recycling: a target's pool is replaced (the old one closes once its requests are answered)
   * after this many requests or this age, whichever comes first. kube-proxy balances per connection, so
   * a keep-alive pool to a Service would otherwise stay on the pods it first reached and new replicas
   * would get no traffic. Defaults: CONNECTION_MAX_REQUESTS, CONNECTION_MAX_AGE_MS.
   */
  connectionMaxRequests?: number | undefined
  connectionMaxAgeMs?: number | undefined
}

/** Requests per pool generation before new connections are opened (each connection gets about 1/connections of them). */
export const CONNECTION_MAX_REQUESTS = 1000
/** Age of a pool generation before new connections are opened. */
export const CONNECTION_MAX_AGE_MS = 15_000

/** 408/429/5xx: mqwriter is busy, restarting or cut off from the database. */
export const TRANSIENT_STATUS: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504])

export type PostResult = { outcome: 'created'; text: string } | { outcome: 'rejected'; status: number; text: string } | { outcome: 'abandoned' }

interface Target {
  pool: Pool
  path: string
  url: string
  origin: string
  bornAt: number
  requests: number
}

export class PublishClient {
  private readonly targets: Target[]
  private next = 0
  private readonly stopping = new AbortController()
  private lastWarn = 0
  /** Pools replaced so far (connection recycling). */
  recycled = 0

  constructor(private readonly opts: PublishClientOptions) {
    if (opts.urls.length === 0) throw new Error('no mqwriter URL')
    // Every post waiting on its backoff listens on the stop signal (and stops listening when it wakes):
    // a listener per waiting post, however many the caller has in flight, is by design — no leak warning.
    setMaxListeners(0, this.stopping.signal)
    this.targets = opts.urls.map((u) => {
      const url = new URL(u)
      return { url: u, origin: url.origin, path: `${url.pathname.replace(/\/$/, '')}/v1/publish`, pool: this.newPool(url.origin), bornAt: Date.now(), requests: 0 }
    })
  }

  private newPool(origin: string): Pool {
    return new Pool(origin, { connections: this.opts.connections, pipelining: 1, keepAliveTimeout: 30_000 })
  }

  get stopped(): boolean {
    return this.stopping.signal.aborted
  }

  /** No new retries: posts waiting to retry give up ("abandoned"); requests already sent still get their answer. */
  stop(): void {
    this.stopping.abort()
  }

  async close(): Promise<void> {
    this.stop()
    await Promise.all(this.targets.map((t) => t.pool.close()))
  }

  private pick(): Target {
    const t = this.targets[this.next % this.targets.length]!
    this.next++
    const now = Date.now()
    if (t.requests >= (this.opts.connectionMaxRequests ?? CONNECTION_MAX_REQUESTS) || now - t.bornAt >= (this.opts.connectionMaxAgeMs ?? CONNECTION_MAX_AGE_MS)) {
      // New connections (kube-proxy picks a backend for each); the old pool finishes its requests, then closes.
      const old = t.pool
      t.pool = this.newPool(t.origin)
      t.bornAt = now
      t.requests = 0
      this.recycled++
      void old.close().catch(() => {})
    }
    t.requests++
    return t
  }

  /** One line per few seconds: a restarting mqwriter would otherwise log once per queued message. */
  warn(obj: object, msg: string): void {
    const now = Date.now()
    if (now - this.lastWarn < 5000) return
    this.lastWarn = now
    this.opts.log.warn(obj, msg)
  }

  /**
   * POSTs `body` to /v1/publish until a 201 ("created"), a status not worth retrying ("rejected"), stop()
   * or the deadline (ms epoch; a retry that would start after it is not made: "abandoned").
   */
  async post(body: string, o: { deadline?: number; retryMessage: string }): Promise<PostResult> {
    const headers = { 'content-type': 'application/json', ...authHeader(this.opts.token) }
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) return { outcome: 'abandoned' }
      const target = this.pick()
      let retryAfterMs = 0
      let reason: string
      try {
        const res = await target.pool.request({ path: target.path, method: 'POST', headers, body, headersTimeout: this.opts.timeoutMs, bodyTimeout: this.opts.timeoutMs })
        const text = await res.body.text()
        if (res.statusCode === 201) return { outcome: 'created', text }
        if (!this.opts.retryStatus.has(res.statusCode)) return { outcome: 'rejected', status: res.statusCode, text }
        const ra = Number(res.headers['retry-after'])
        if (Number.isFinite(ra) && ra > 0) retryAfterMs = ra * 1000
        reason = res.statusCode >= 500 && res.statusCode !== 503 ? '5xx' : String(res.statusCode)
        this.warn({ status: res.statusCode, url: target.url, retryAfterMs }, 'mqwriter asked to retry')
      } catch (err) {
        const code = (err as { code?: string }).code ?? ''
        reason = /TIMEOUT/.test(code) ? 'timeout' : 'connection'
        this.warn({ err: (err as Error).message, code, url: target.url }, o.retryMessage)
      }
      this.opts.onRetry?.(reason)
      const backoff = Math.min(this.opts.maxBackoffMs, 50 * 2 ** Math.min(attempt, 16))
      const delay = Math.max(retryAfterMs, backoff * (0.5 + Math.random() / 2))
      if (o.deadline !== undefined && Date.now() + delay > o.deadline) return { outcome: 'abandoned' }
      try {
        await sleep(delay, undefined, { signal: this.stopping.signal })
      } catch {
        return { outcome: 'abandoned' }
      }
    }
  }
}
