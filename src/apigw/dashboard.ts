// The web dashboard's files (built by scripts/build-web.ts into dist/web): GET / answers index.html
// (no-cache: it names the current bundle), GET /assets/<hashed name> the bundle (immutable: a new build
// has new names). Everything is read once at start-up (about 100 KiB) and sent gzip-compressed when
// the browser accepts it. The page itself talks to /api/v1/… like any other client.
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify'
import { TpipeError } from '../errors.js'
import { PACKAGE_ROOT } from '../paths.js'

export const DEFAULT_WEB_ROOT = join(PACKAGE_ROOT, 'dist', 'web')

interface Asset {
  body: Buffer
  gzip: Buffer | undefined
  type: string
  etag: string
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
}

const HIDDEN = { hide: true } as FastifySchema
/** Only what the page needs: its own scripts and styles (uPlot sets inline styles), the API on the same origin. */
const CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

function load(file: string): Asset | undefined {
  const dot = file.lastIndexOf('.')
  const type = TYPES[file.slice(dot)]
  if (!type) return undefined
  const body = readFileSync(file)
  const gz = `${file}.gz`
  return { body, gzip: existsSync(gz) ? readFileSync(gz) : undefined, type, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"` }
}

export interface DashboardFiles {
  index: Asset | undefined
  assets: Map<string, Asset>
}

export function loadDashboard(root = DEFAULT_WEB_ROOT): DashboardFiles {
  const assets = new Map<string, Asset>()
  const index = existsSync(join(root, 'index.html')) ? load(join(root, 'index.html')) : undefined
  const dir = join(root, 'assets')
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) {
      if (name.endsWith('.gz')) continue
      const a = load(join(dir, name))
      if (a) assets.set(name, a)
    }
  }
  return { index, assets }
}

function send(request: FastifyRequest, reply: FastifyReply, a: Asset, cache: string): FastifyReply {
  void reply.header('content-type', a.type).header('cache-control', cache).header('etag', a.etag).header('vary', 'accept-encoding').header('x-content-type-options', 'nosniff')
  if (request.headers['if-none-match'] === a.etag) return reply.status(304).send()
  const gzip = a.gzip && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))
  if (gzip) void reply.header('content-encoding', 'gzip')
  return reply.send(gzip ? a.gzip : a.body)
}

export function registerDashboard(app: FastifyInstance, files: DashboardFiles): void {
  app.get('/', { schema: HIDDEN }, async (request, reply) => {
    if (!files.index) {
      return reply
        .status(503)
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send('<!doctype html><title>tpipe</title><p>The dashboard is not built in this installation (no dist/web): run <code>npm run build</code>. The API is at <a href="swagger">/swagger</a>.</p>')
    }
    void reply.header('content-security-policy', CSP).header('referrer-policy', 'same-origin')
    return send(request, reply, files.index, 'no-cache')
  })
  app.get('/assets/:file', { schema: HIDDEN }, async (request, reply) => {
    const { file } = request.params as { file: string }
    const a = files.assets.get(file)
    if (!a) throw new TpipeError('TPIPE_ERR_NOT_FOUND', `no dashboard asset ${file}`)
    return send(request, reply, a, 'public, max-age=31536000, immutable')
  })
}
