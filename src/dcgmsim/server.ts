// dcgm-sim's HTTP side: every simulated node served like a dcgm-exporter, either one port per node
// (`/metrics` on each, as on a real fleet) or all nodes on one port with a path per node
// (`/nodes/<i>/metrics`; `/metrics` is node 0). Plain node:http: 500 nodes must stay cheap.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildNodes, loadCsv, renderNode, type SimNode } from './sim.js'

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export interface DcgmSimOptions {
  csv: string
  nodes: number
  gpusPerNode?: number | undefined
  /** ports: one listener per node; paths: one listener, /nodes/<i>/metrics. */
  layout: 'ports' | 'paths'
  host: string
  /** First port (ports layout: node i on port+i); 0 lets the OS pick each. */
  port: number
  frameSeconds?: number
  /** Clock (ms); tests pass their own. */
  now?: () => number
}

export interface DcgmSim {
  nodes: SimNode[]
  /** The scrape URL of every node, in node order. */
  urls: string[]
  /** Scrapes served (all nodes). */
  readonly served: number
  close(): Promise<void>
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port }, () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

function urlHost(host: string): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  return h.includes(':') ? `[${h}]` : h
}

export async function startDcgmSim(opts: DcgmSimOptions): Promise<DcgmSim> {
  const nodes = buildNodes(loadCsv(opts.csv), { nodes: opts.nodes, gpusPerNode: opts.gpusPerNode })
  const now = opts.now ?? Date.now
  const frameSeconds = opts.frameSeconds ?? 30
  let served = 0
  const send = (res: ServerResponse, node: SimNode) => {
    served++
    const body = renderNode(node, now(), frameSeconds)
    res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }
  const notFound = (res: ServerResponse, what: string) => {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
    res.end(`${what}\n`)
  }
  const servers: Server[] = []
  const urls: string[] = []
  const h = urlHost(opts.host)
  if (opts.layout === 'ports') {
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!
      const server = createServer((req: IncomingMessage, res) => {
        const path = (req.url ?? '/').split('?')[0]
        if (path === '/metrics') return send(res, node)
        if (path === '/healthz') return void res.end('ok\n')
        notFound(res, 'dcgm-sim serves /metrics')
      })
      servers.push(server)
      const port = await listen(server, opts.host, opts.port === 0 ? 0 : opts.port + i)
      urls.push(`http://${h}:${port}/metrics`)
    }
  } else {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/'
      if (path === '/metrics') return send(res, nodes[0]!)
      if (path === '/healthz') return void res.end('ok\n')
      const m = /^\/nodes\/(\d+)\/metrics$/.exec(path)
      const node = m ? nodes[Number(m[1])] : undefined
      if (node) return send(res, node)
      notFound(res, `dcgm-sim serves /metrics and /nodes/0..${nodes.length - 1}/metrics`)
    })
    servers.push(server)
    const port = await listen(server, opts.host, opts.port)
    for (let i = 0; i < nodes.length; i++) urls.push(`http://${h}:${port}/nodes/${i}/metrics`)
  }
  for (const s of servers) s.keepAliveTimeout = 65_000
  return {
    nodes,
    urls,
    get served() {
      return served
    },
    async close() {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve())
              s.closeAllConnections()
            }),
        ),
      )
    },
  }
}
