import { readFile } from 'node:fs/promises'
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { Pool } from 'undici'

/** One reader address: its HTTP pool and what the collector learned about it recently. */
export interface Endpoint {
  readonly key: string
  readonly origin: string
  readonly basePath: string
  readonly http: Pool
  /** Returned nothing recently: skipped while others may have messages. */
  emptyUntil: number
  /** Failed recently: skipped until then. */
  backoffUntil: number
  failures: number
  /** Left the reader set: no longer picked; its pool stays open until the leases from it are settled. */
  retired?: boolean
  /** Lease requests on their way (a lease may still come back from a reader that left the set). */
  leasing: number
  /** Refused a lease request carrying max_bytes (a reader older than that field): asked without it since. */
  noMaxBytes?: boolean
}

export interface ReaderChoice {
  endpoint: Endpoint
  waitMs: number
}

// How long a reader that answered "nothing ready" is passed over while other readers are tried.
const EMPTY_MS = 100

/**
 * The collector's view of the readers. A configured URL whose host is a DNS name counts once per
 * address it resolves to (a headless Service lists every reader pod), and is resolved again
 * periodically so readers that come and go are followed. Choosing a reader is round-robin over those
 * not recently empty or failing: readers with messages are never starved by empty ones, and every
 * reader gets its turn even when there are fewer collectors than readers. When all were recently empty,
 * the next one is long-polled instead of spinning.
 */
export class ReaderSet {
  private endpoints: Endpoint[] = []
  private turn = 0
  /** Endpoints that left the set and are still settling their leases (closed when done). */
  private readonly retiring = new Set<Endpoint>()
  private retire: (endpoint: Endpoint) => Promise<void> = async () => {}

  /**
   * What happens to an endpoint that leaves the set before its pool is closed: the lease loops release
   * what they have not started persisting and let the rest be acked (see LeaseLoops.retire).
   */
  onRetire(fn: (endpoint: Endpoint) => Promise<void>): void {
    this.retire = fn
  }

  constructor(
    private urls: readonly string[],
    private readonly opts: {
      connections: number
      waitMs: number
      backoffMs: number
      resolve?: (host: string) => Promise<string[]>
      /** A file listing the reader URLs (one per line), read again at every refresh; replaces `urls`. */
      urlsFile?: string
      onUrlsFile?: (event: { urls?: readonly string[]; error?: string }) => void
    },
  ) {}

  private urlsFileText: string | undefined

  /** With a readers file: its URLs replace the configured ones when its content changed. */
  private async readUrlsFile(): Promise<void> {
    const file = this.opts.urlsFile
    if (!file) return
    try {
      const text = await readFile(file, 'utf8')
      if (text === this.urlsFileText) return
      this.urlsFileText = text
      this.urls = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
      this.opts.onUrlsFile?.({ urls: this.urls })
    } catch (err) {
      this.opts.onUrlsFile?.({ error: (err as Error).message })
    }
  }

  get list(): readonly Endpoint[] {
    return this.endpoints
  }

  /** Replaces the configured URLs (a readers file changed); takes effect at the next refresh. */
  setUrls(urls: readonly string[]): void {
    this.urls = urls
  }

  /** Resolves every configured URL again; keeps the state of endpoints that are still there. */
  async refresh(): Promise<void> {
    await this.readUrlsFile()
    const wanted: { key: string; origin: string; basePath: string }[] = []
    for (const raw of this.urls) {
      let u: URL
      try {
        u = new URL(raw)
      } catch {
        continue
      }
      const basePath = u.pathname.replace(/\/$/, '')
      const host = u.hostname.replace(/^\[|\]$/g, '')
      let addresses: string[] = [host]
      if (isIP(host) === 0 && host !== 'localhost') {
        try {
          const found = await (this.opts.resolve ?? defaultResolve)(host)
          if (found.length > 0) addresses = found
        } catch {
          // Unresolvable for now: keep what we had for this URL, or try the name itself.
          const had = this.endpoints.filter((e) => e.key.startsWith(`${raw}|`))
          if (had.length > 0) {
            for (const e of had) wanted.push({ key: e.key, origin: e.origin, basePath: e.basePath })
            continue
          }
        }
      }
      for (const a of addresses) {
        const v = new URL(u.toString())
        v.hostname = isIP(a) === 6 ? `[${a}]` : a
        wanted.push({ key: `${raw}|${a}`, origin: v.origin, basePath })
      }
    }
    const byKey = new Map(this.endpoints.map((e) => [e.key, e]))
    const next: Endpoint[] = []
    const seen = new Set<string>()
    for (const w of wanted) {
      if (seen.has(w.key)) continue
      seen.add(w.key)
      const had = byKey.get(w.key)
      if (had) {
        next.push(had)
        byKey.delete(w.key)
      } else {
        next.push({
          ...w,
          http: new Pool(w.origin, {
            connections: this.opts.connections,
            keepAliveTimeout: 10_000,
            headersTimeout: this.opts.waitMs + 30_000,
            bodyTimeout: 60_000,
          }),
          emptyUntil: 0,
          backoffUntil: 0,
          failures: 0,
          leasing: 0,
        })
      }
    }
    this.endpoints = next
    for (const gone of byKey.values()) {
      gone.retired = true
      this.retiring.add(gone)
      void this.retire(gone)
        .catch(() => {})
        .finally(() => {
          this.retiring.delete(gone)
          void gone.http.close().catch(() => {})
        })
    }
  }

  pick(now = Date.now()): ReaderChoice | { sleepMs: number } {
    const endpoints = this.endpoints
    const n = endpoints.length
    if (n === 0) return { sleepMs: this.opts.backoffMs }
    for (let i = 0; i < n; i++) {
      const endpoint = endpoints[(this.turn + i) % n]!
      if (endpoint.backoffUntil > now || endpoint.emptyUntil > now) continue
      this.turn = (this.turn + i + 1) % n
      return { endpoint, waitMs: 0 }
    }
    for (let i = 0; i < n; i++) {
      const endpoint = endpoints[(this.turn + i) % n]!
      if (endpoint.backoffUntil > now) continue
      this.turn = (this.turn + i + 1) % n
      return { endpoint, waitMs: this.opts.waitMs }
    }
    return { sleepMs: Math.max(1, Math.min(...endpoints.map((e) => e.backoffUntil)) - now) }
  }

  markEmpty(endpoint: Endpoint, now = Date.now()): void {
    endpoint.emptyUntil = now + EMPTY_MS
    endpoint.failures = 0
  }

  markOk(endpoint: Endpoint): void {
    endpoint.emptyUntil = 0
    endpoint.failures = 0
  }

  markFailed(endpoint: Endpoint, now = Date.now()): void {
    endpoint.failures++
    endpoint.backoffUntil = now + Math.min(this.opts.backoffMs * 2 ** (endpoint.failures - 1), this.opts.backoffMs * 20)
  }

  async close(): Promise<void> {
    await Promise.all([...this.endpoints, ...this.retiring].map((e) => e.http.close().catch(() => {})))
    this.endpoints = []
    this.retiring.clear()
  }
}

async function defaultResolve(host: string): Promise<string[]> {
  const all = await lookup(host, { all: true })
  return [...new Set(all.map((a) => a.address))]
}
