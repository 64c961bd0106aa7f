// The HTTP client of `tpipe gpus …`: talks to a running apigw, turns every failure into one clear line.
import { authHeader } from '../http/auth.js'
import { Pool } from 'undici'
import type { Gpu, TelemetryPage } from '../protocol/apigw.js'

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export interface TelemetryQuery {
  /** start/end/window as the API takes them (the CLI checks and resolves its flags first). */
  window?: [string, string][]
  order?: 'asc' | 'desc' | undefined
  metrics?: readonly string[] | undefined
  limit?: number | undefined
  cursor?: string | undefined
  detail?: boolean | undefined
}

export class ApiClient {
  private readonly pool: Pool
  private readonly base: URL

  constructor(
    readonly apiUrl: string,
    private readonly timeoutMs = 30_000,
    /** TPIPE_API_TOKEN: sent as a bearer token when apigw requires one. */
    private readonly token?: string,
  ) {
    try {
      this.base = new URL(apiUrl)
    } catch {
      throw new ApiError(`--api-url ${JSON.stringify(apiUrl)} is not a URL: expected http://host:port (or host:port)`)
    }
    this.pool = new Pool(this.base.origin, { connections: 2 })
  }

  async close(): Promise<void> {
    await this.pool.close()
  }

  async get<T>(path: string, query: [string, string][] = []): Promise<T> {
    const qs = new URLSearchParams(query).toString()
    const fullPath = `${this.base.pathname.replace(/\/$/, '')}${path}${qs ? `?${qs}` : ''}`
    let res
    try {
      res = await this.pool.request({ path: fullPath, method: 'GET', headers: authHeader(this.token), headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs })
    } catch (err) {
      const code = (err as { code?: string }).code
      const why = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' ? 'unknown host' : (err as Error).message || code || 'request failed'
      throw new ApiError(`cannot reach apigw at ${this.apiUrl}: ${why} (is it running? start the whole pipeline with \`tpipe dev\`, or point --api-url / TPIPE_API_URL at a running apigw)`)
    }
    const text = await res.body.text()
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new ApiError(`apigw at ${this.apiUrl} answered ${res.statusCode} with a body that is not JSON (is that URL really apigw?)`, res.statusCode)
    }
    if (res.statusCode >= 400) {
      const e = (body as { error?: { code?: string; message?: string } }).error
      throw new ApiError(`apigw answered ${res.statusCode} ${e?.code ?? ''}: ${e?.message ?? text.slice(0, 200)}`.replace(' :', ':'), res.statusCode, e?.code)
    }
    return body as T
  }

  async gpus(filter: { hostname?: string | undefined; model?: string | undefined } = {}): Promise<Gpu[]> {
    const q: [string, string][] = []
    if (filter.hostname !== undefined) q.push(['hostname', filter.hostname])
    if (filter.model !== undefined) q.push(['model', filter.model])
    return (await this.get<{ gpus: Gpu[] }>('/api/v1/gpus', q)).gpus
  }

  async telemetry(id: string, q: TelemetryQuery): Promise<TelemetryPage> {
    const query: [string, string][] = [...(q.window ?? [])]
    // The cursor carries its page's order: sending order again with it is allowed but unneeded.
    if (q.order && !q.cursor) query.push(['order', q.order])
    for (const m of q.metrics ?? []) query.push(['metric', m])
    if (q.limit !== undefined) query.push(['limit', String(q.limit)])
    if (q.cursor) query.push(['cursor', q.cursor])
    if (q.detail) query.push(['detail', 'true'])
    return this.get<TelemetryPage>(`/api/v1/gpus/${encodeURIComponent(id)}/telemetry`, query)
  }
}
