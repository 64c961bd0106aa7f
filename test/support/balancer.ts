// A per-connection balancer in front of several HTTP servers, as kube-proxy is in front of a Service's
// pods: every new connection goes to the next backend (round robin), and a connection stays on its
// backend. The publishers to mqwriter must spread their requests over every backend, including one added
// while they run (issue 12 defect 4).
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createTcpServer, connect, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net'

export class Balancer {
  private readonly closers: (() => Promise<void>)[] = []
  readonly backends: { port: number; requests: number }[] = []
  port = 0

  private async listen(server: Server | TcpServer): Promise<number> {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    this.closers.push(() => new Promise((r) => server.close(() => r())))
    return (server.address() as AddressInfo).port
  }

  /** Adds an mqwriter stand-in that counts the requests it answers (201, one msg_uuid). */
  async addBackend(): Promise<{ port: number; requests: number }> {
    const b = { port: 0, requests: 0 }
    const server = createHttpServer((req, res) => {
      req.resume()
      req.on('end', () => {
        b.requests++
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ msg_uuids: ['x'] }))
      })
    })
    b.port = await this.listen(server)
    this.closers.push(async () => void server.closeAllConnections())
    this.backends.push(b)
    return b
  }

  /** Starts the balancer with `n` backends; its address is http://127.0.0.1:<port>. */
  static async start(n: number): Promise<Balancer> {
    const lb = new Balancer()
    for (let i = 0; i < n; i++) await lb.addBackend()
    let next = 0
    const sockets = new Set<Socket>()
    const server = createTcpServer((client) => {
      const target = lb.backends[next++ % lb.backends.length]!
      const upstream = connect(target.port, '127.0.0.1')
      sockets.add(client).add(upstream)
      client.pipe(upstream).pipe(client)
      client.on('error', () => upstream.destroy())
      upstream.on('error', () => client.destroy())
      client.on('close', () => upstream.destroy())
    })
    lb.port = await lb.listen(server)
    lb.closers.push(async () => sockets.forEach((s) => s.destroy()))
    return lb
  }

  get counts(): number[] {
    return this.backends.map((b) => b.requests)
  }

  async close(): Promise<void> {
    for (const c of this.closers.splice(0).reverse()) await c()
  }
}
