// The collector's client of mqreader's queue API (POST /v1/lease, /v1/ack, /v1/release), typed by the one
// definition in src/protocol/lease.ts. Which reader to ask is ReaderSet's business (readers.ts).
import type { AckAnswer, AckRequest, LeaseAnswer, LeaseRequest, ReleaseAnswer, ReleaseRequest } from '../protocol/lease.js'
import { authHeader } from '../http/auth.js'
import type { Endpoint } from './readers.js'

/** An ack answers once its DELETE commits: well under this even on a busy database. */
export const ACK_TIMEOUT_MS = 10_000

/** A release is bookkeeping in the reader's memory (no database): answered in milliseconds. */
export const RELEASE_TIMEOUT_MS = 2_000

export interface Answer<T> {
  status: number
  /** The parsed body: T on 2xx, the error body otherwise. */
  body: T
  /** The body's text as it came (a lease's messages can be parsed again from it: LeaseMessages). */
  text: string
}

async function post<T>(endpoint: Endpoint, path: string, body: unknown, signal: AbortSignal | undefined, token: string | undefined): Promise<Answer<T>> {
  const res = await endpoint.http.request({
    path: endpoint.basePath + path,
    method: 'POST',
    // TPIPE_QUEUE_TOKEN: mqreader refuses lease and ack without it (when it is set).
    headers: { 'content-type': 'application/json', ...authHeader(token) },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  })
  const text = await res.body.text()
  return { status: res.statusCode, body: JSON.parse(text) as T, text }
}

/** Asks one reader for a lease; signal abandons a long-poll. */
export function requestLease(endpoint: Endpoint, body: LeaseRequest, signal?: AbortSignal, token?: string): Promise<Answer<LeaseAnswer>> {
  return post<LeaseAnswer>(endpoint, '/v1/lease', body, signal, token)
}

/** Acks a whole lease (bounded by ACK_TIMEOUT_MS). */
export function requestAck(endpoint: Endpoint, body: AckRequest, token?: string): Promise<Answer<AckAnswer | unknown>> {
  return post<AckAnswer | unknown>(endpoint, '/v1/ack', body, AbortSignal.timeout(ACK_TIMEOUT_MS), token)
}

/** Hands leases back unprocessed (bounded by timeoutMs): their messages are ready again at once. */
export function requestRelease(endpoint: Endpoint, body: ReleaseRequest, token?: string, timeoutMs = RELEASE_TIMEOUT_MS): Promise<Answer<ReleaseAnswer | unknown>> {
  return post<ReleaseAnswer | unknown>(endpoint, '/v1/release', body, AbortSignal.timeout(timeoutMs), token)
}
