// gzip for API answers a browser asks for compressed: the dashboard's fleet page pulls one grouped series
// per key metric for every GPU (hundreds of KB of JSON numbers, which compress ~8×). Only JSON bodies of
// at least MIN_BYTES, only when the request says Accept-Encoding: gzip (the CLI's client does not), done
// off the event loop (zlib's thread pool) at a low level: a few ms per answer.
import { promisify } from 'node:util'
import { gzip as gzipCb, constants } from 'node:zlib'
import type { FastifyInstance, FastifyRequest } from 'fastify'

const gzip = promisify(gzipCb)
export const MIN_BYTES = 2048

/** Whether the request accepts a gzip answer. */
export function wantsGzip(request: FastifyRequest): boolean {
  return /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))
}

export function compressJson(app: FastifyInstance, prefix = '/api/'): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (typeof payload !== 'string' || payload.length < MIN_BYTES || !request.url.startsWith(prefix)) return payload
    if (!wantsGzip(request) || reply.getHeader('content-encoding')) return payload
    if (!String(reply.getHeader('content-type') ?? '').startsWith('application/json')) return payload
    void reply.header('content-encoding', 'gzip').header('vary', 'accept-encoding')
    reply.removeHeader('content-length')
    return gzip(payload, { level: 4, strategy: constants.Z_DEFAULT_STRATEGY })
  })
}
