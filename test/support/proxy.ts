// A TCP proxy a test can cut and restore: the way to make "the database is down" happen for real,
// without stopping the shared PostgreSQL. Used by the mqwriter 503 tests and the chaos tests.
import { createServer, connect, type Server, type Socket } from 'node:net'

export interface TcpProxy {
  port: number
  /** Resets every open connection and refuses new ones. */
  cut(): Promise<void>
  /** Accepts connections again. */
  restore(): Promise<void>
  close(): Promise<void>
}

export async function startProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let server: Server | undefined
  let port = 0
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(targetPort, targetHost)
        sockets.add(client)
        sockets.add(upstream)
        const drop = () => {
          client.destroy()
          upstream.destroy()
          sockets.delete(client)
          sockets.delete(upstream)
        }
        client.on('error', drop).on('close', drop)
        upstream.on('error', drop).on('close', drop)
        client.pipe(upstream)
        upstream.pipe(client)
      })
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => {
        const a = s.address()
        if (a && typeof a === 'object') port = a.port
        server = s
        resolve()
      })
    })
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.resetAndDestroy()
      sockets.clear()
      if (!server) return resolve()
      server.close(() => resolve())
      server = undefined
    })
  await listen()
  return {
    get port() {
      return port
    },
    cut: stop,
    restore: listen,
    close: stop,
  }
}

/** Rewrites a PostgreSQL URL to go through a proxy port on 127.0.0.1. */
export function viaProxy(url: string, proxyPort: number): string {
  const u = new URL(url)
  u.hostname = '127.0.0.1'
  u.port = String(proxyPort)
  return u.toString()
}
