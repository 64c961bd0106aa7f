// Network helpers shared by the supervisor, the embedded PostgreSQL and tests.
import { createServer } from 'node:net'

/** A TCP port the OS says is free on 127.0.0.1 right now (listen on port 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      const port = typeof address === 'object' && address ? address.port : 0
      srv.close(() => resolve(port))
    })
  })
}
