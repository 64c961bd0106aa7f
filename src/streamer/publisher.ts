import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { Pool } from 'undici'
import { authHeader } from '../http/auth.js'
import { uuidv7 } from '../util/ids.js'
import type { AckLog } from './acklog.js'
import type { PublishAnswer } from '../protocol/publish.js'

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
  /**
   * Connection recycling: a target's pool is replaced (the old one closes once its requests are answered)
   * after this many requests or this age, whichever comes first. kube-proxy balances per connection, so
   * a keep-alive pool to a Service would otherwise stay on the pods it first reached and new replicas
   * would get no traffic. Defaults: CONNECTION_MAX_REQUESTS, CONNECTION_MAX_AGE_MS.
   */
  connectionMaxRequests?: number
  connectionMaxAgeMs?: number
}

/** Requests per pool generation before new connections are opened (each of `inFlight` connections gets about 1/inFlight of them). */
export const CONNECTION_MAX_REQUESTS = 1000
/** Age of a pool generation before new connections are opened. */
export const CONNECTION_MAX_AGE_MS = 15_000

interface Target {
  pool: Pool
  path: string
  url: string
  origin: string
  bornAt: number
  requests: number
}

// 401/403: our token is missing or wrong (a configuration error, often fixed by a rollout): retry, never drop.
const RETRY_STATUS = new Set([401, 403, 408, 429, 500, 502, 503, 504])

/**
 * Publishes one message per request to mqwriter over keep-alive undici pools, at most `inFlight` at a
 * time. Each emission gets a fresh UUIDv7 `id` that every retry reuses, so a publish whose answer was
 * lost is retried without being stored twice. 429/503/5xx, timeouts and refused connections are
 * retried with exponential backoff (Retry-After wins when longer) until answered or stopped; a 4xx
 * other than 408/429 cannot succeed by retrying and is logged and counted as rejected.
 */
export class Publisher {
  private readonly targets: Target[]
  private next = 0
  private inFlight = 0
  private slotWaiters: (() => void)[] = []
  private idleWaiters: (() => void)[] = []
  private readonly stopping = new AbortController()
  private lastWarn = 0

  constructor(private readonly opts: PublisherOptions) {
    if (opts.urls.length === 0) throw new Error('no mqwriter URL')
    this.targets = opts.urls.map((u) => {
      const url = new URL(u)
      return {
        url: u,
        origin: url.origin,
        path: `${url.pathname.replace(/\/$/, '')}/v1/publish`,
        pool: this.newPool(url.origin),
        bornAt: Date.now(),
        requests: 0,
      }
    })
  }

  private newPool(origin: string): Pool {
    return new Pool(origin, { connections: this.opts.inFlight, pipelining: 1, keepAliveTimeout: 30_000 })
  }

  /** Pools replaced so far (connection recycling). */
  recycled = 0

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
    this.stopping.abort()
  }

  async close(): Promise<void> {
    this.stop()
    await this.drain()
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

  private warn(obj: object, msg: string): void {
    // One line per few seconds: a restarting mqwriter would otherwise log once per queued row.
    const now = Date.now()
    if (now - this.lastWarn < 5000) return
    this.lastWarn = now
    this.opts.log.warn(obj, msg)
  }

  private async publish(key: string, payload: object): Promise<void> {
    const id = uuidv7()
    const body = JSON.stringify({ key, payload, id })
    for (let attempt = 0; ; attempt++) {
      if (this.stopping.signal.aborted) return
      const target = this.pick()
      let retryAfterMs = 0
      let reason: string
      try {
        const res = await target.pool.request({
          path: target.path,
          method: 'POST',
          headers: { 'content-type': 'application/json', ...authHeader(this.opts.token) },
          body,
          headersTimeout: this.opts.timeoutMs,
          bodyTimeout: this.opts.timeoutMs,
        })
        if (res.statusCode === 201) {
          const answer = (await res.body.json()) as Partial<PublishAnswer>
          this.opts.ackLog?.append(answer.msg_uuids?.[0] ?? id)
          this.opts.onPublished?.()
          return
        }
        const text = await res.body.text()
        if (!RETRY_STATUS.has(res.statusCode)) {
          this.opts.onRejected?.()
          this.opts.log.error({ status: res.statusCode, answer: text.slice(0, 500), key, id }, 'mqwriter rejected a message; it cannot succeed by retrying')
          return
        }
        const ra = Number(res.headers['retry-after'])
        if (Number.isFinite(ra) && ra > 0) retryAfterMs = ra * 1000
        reason = res.statusCode >= 500 && res.statusCode !== 503 ? '5xx' : String(res.statusCode)
        this.warn({ status: res.statusCode, url: target.url, retryAfterMs }, 'mqwriter asked to retry')
      } catch (err) {
        const code = (err as { code?: string }).code ?? ''
        reason = /TIMEOUT/.test(code) ? 'timeout' : 'connection'
        this.warn({ err: (err as Error).message, code, url: target.url }, 'publish failed; retrying with the same id')
      }
      this.opts.onRetry?.(reason)
      const backoff = Math.min(this.opts.maxBackoffMs, 50 * 2 ** Math.min(attempt, 16))
      const delay = Math.max(retryAfterMs, backoff * (0.5 + Math.random() / 2))
      try {
        await sleep(delay, undefined, { signal: this.stopping.signal })
      } catch {
        return
      }
    }
  }
}
