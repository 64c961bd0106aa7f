// Kubernetes API error helpers and request options, shared by every caller of the API (the
// partition-controller, mqreader's assignment watch, `tpipe scale|status`): what a failed call means
// (404, 409, a transport failure) and the API server's own message. No wording for users here.
import { ApiException, PatchStrategy, setHeaderOptions, type ConfigurationOptions } from '@kubernetes/client-node'

/** HTTP status of an API error (404, 409…), or undefined for transport errors. */
export function apiStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.statusCode ?? (err as { code?: unknown } | null)?.code
  return typeof code === 'number' ? code : undefined
}

export const isNotFound = (err: unknown): boolean => apiStatus(err) === 404
export const isConflict = (err: unknown): boolean => apiStatus(err) === 409

/** The API server's own message (Status.message) when there is one. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    let body: unknown = err.body
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body)
      } catch {
        // keep the text
      }
    }
    const msg = (body as { message?: unknown } | null)?.message
    if (typeof msg === 'string' && msg !== '') return msg
    return `HTTP ${err.code}`
  }
  return err instanceof Error ? err.message : String(err)
}

const TRANSPORT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'ENETUNREACH', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'])

/** True when the request never reached an API server (refused, unknown host, timeout, TLS). */
export function isTransportError(err: unknown): boolean {
  if (err instanceof ApiException) return false
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown; errno?: unknown }).code ?? (e as { errno?: unknown }).errno
    if (typeof code === 'string' && TRANSPORT_CODES.has(code)) return true
    if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|socket hang up|network timeout/i.test(String((e as Error).message))) return true
  }
  return false
}

/**
 * Request options for a JSON merge patch. The client's patch calls default to JSON Patch
 * (application/json-patch+json), which the server refuses for an object body.
 */
export function mergePatchOptions(opt?: ConfigurationOptions): ConfigurationOptions {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch, opt)
}
