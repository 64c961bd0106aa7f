// Service credentials: `Authorization: Bearer <token>` on the routes that read, delete or steer the
// pipeline. Missing → 401 TPIPE_ERR_UNAUTHENTICATED, wrong → 403 TPIPE_ERR_FORBIDDEN (our error shape).
// Tokens are compared in constant time (SHA-256 of both, timingSafeEqual: no length leak either).
// /healthz, /readyz and /metrics never get this hook.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { TpipeError } from '../errors.js'

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()

/** True when `given` equals `expected`, in time independent of where they differ. */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected))
}

/** The bearer token of a request, or undefined when there is none. */
export function bearerOf(request: { headers: Record<string, string | string[] | undefined> }): string | undefined {
  const h = request.headers.authorization
  const v = Array.isArray(h) ? h[0] : h
  if (!v) return undefined
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(v)
  return m ? m[1] : ''
}

/**
 * An onRequest hook requiring `token` (runs before the body is read: an unauthenticated client gets no
 * parsing). Undefined token: the route is open (the setting is unset) and the hook does nothing.
 */
export function requireToken(token: string | undefined, setting: string) {
  return async function checkToken(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    if (token === undefined) return
    const given = bearerOf(request)
    if (given === undefined) throw new TpipeError('TPIPE_ERR_UNAUTHENTICATED', `missing credentials: send Authorization: Bearer <${setting}>`)
    if (!tokenMatches(given, token)) throw new TpipeError('TPIPE_ERR_FORBIDDEN', `the token is not valid for this endpoint (it needs ${setting})`)
  }
}

/** Headers a client sends with a token (none when the token is unset). */
export function authHeader(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {}
}
