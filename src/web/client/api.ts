// The dashboard's one way to the API: relative URLs (works behind a path prefix), the optional read
// token from sessionStorage as a Bearer header, and every failure sorted by what the page must show.
export type FailureKind = 'unreachable' | 'unauthorized' | 'bad'

export class ApiFailure extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message)
    this.name = 'ApiFailure'
  }
}

const TOKEN_KEY = 'tpipe.apiToken'

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY)
  } catch {
    return null
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token)
    else sessionStorage.removeItem(TOKEN_KEY)
  } catch {
    /* storage disabled: the token lives only as long as this call's caller holds it */
  }
}

export type Params = readonly (readonly [string, string])[]

/** The API URL relative to the page ("api/v1/gpus?…"), also shown as the "JSON" link of a view. */
export function apiUrl(path: string, params: Params = []): string {
  const qs = new URLSearchParams(params as [string, string][]).toString()
  return `${path.replace(/^\//, '')}${qs ? `?${qs}` : ''}`
}

export async function getJson<T>(path: string, params: Params = [], signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  const token = getToken()
  if (token) headers.authorization = `Bearer ${token}`
  let res: Response
  try {
    res = await fetch(apiUrl(path, params), { headers, cache: 'no-store', ...(signal ? { signal } : {}) })
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err
    throw new ApiFailure('apigw cannot be reached (network error)', 'unreachable')
  }
  let body: unknown
  try {
    body = await res.json()
  } catch {
    body = undefined
  }
  if (res.ok && body !== undefined) return body as T
  const e = (body as { error?: { code?: string; message?: string } } | undefined)?.error
  const text = e ? `${e.code ?? ''}: ${e.message ?? ''}` : `HTTP ${res.status}`
  if (res.status === 401 || res.status === 403) throw new ApiFailure(text, 'unauthorized', res.status, e?.code)
  if (res.status >= 500 || res.status === 429 || body === undefined) throw new ApiFailure(`apigw answered ${res.status} ${text}`, 'unreachable', res.status, e?.code)
  throw new ApiFailure(`apigw answered ${res.status} ${text}`, 'bad', res.status, e?.code)
}

// The shapes of the Query API contract (what i14's apigw answers).
export type Point = [number, number]

export interface ApiGpu {
  id: string
  hostname: string
  gpu_id: number
  device: string
  model_name: string
  last_seen: string
  latest?: Record<string, { value: number; ts: string }>
}

export interface GpuSeries {
  gpu: string
  step_seconds: number
  agg: string
  start: string
  end: string
  series: { metric: string; points: Point[] }[]
}

export interface FleetSeries {
  metric: string
  step_seconds: number
  agg: string
  group_by: string
  start: string
  end: string
  series: { group: string; points: Point[] }[]
}
