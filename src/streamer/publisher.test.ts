// Issue 12 defect 4: kube-proxy balances per connection, so a keep-alive pool to a Service sticks to the
// pods it first reached and replicas added later (the HPA scaling mqwriter) get nothing. Here a TCP
// balancer in front of several HTTP servers assigns each new connection to the next backend, as kube-proxy
// does; the publisher must spread its requests over every backend, including one added while it runs.
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createTcpServer, connect, type AddressInfo, type Server as TcpServer } from 'node:net'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { Publisher } from './publisher.js'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

async function listen(server: Server | TcpServer): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  closers.push(() => new Promise((r) => server.close(() => r())))
  return (server.address() as AddressInfo).port
}

/** An mqwriter stand-in that counts the requests it answers. */
async function backend(): Promise<{ port: number; requests: number }> {
  const b = { port: 0, requests: 0 }
  const server = createHttpServer((req, res) => {
    req.resume()
    req.on('end', () => {
      b.requests++
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ msg_uuids: ['x'] }))
    })
  })
  b.port = await listen(server)
  closers.push(async () => void server.closeAllConnections())
  return b
}

/** One address in front of the backends: every new connection goes to the next backend (round robin). */
async function balancer(backends: { port: number }[]): Promise<number> {
  let next = 0
  const sockets = new Set<import('node:net').Socket>()
  const server = createTcpServer((client) => {
    const target = backends[next++ % backends.length]!
    const upstream = connect(target.port, '127.0.0.1')
    sockets.add(client).add(upstream)
    client.pipe(upstream).pipe(client)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
  })
  const port = await listen(server)
  closers.push(async () => sockets.forEach((s) => s.destroy()))
  return port
}

async function publishN(p: Publisher, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await p.send(`k${i}`, { i })
  await p.drain()
}

describe('Publisher connection recycling (defect 4)', () => {
  it('spreads requests over every backend behind one per-connection balancer, including one added later', async () => {
    const backends = [await backend(), await backend()]
    const port = await balancer(backends)
    const p = new Publisher({ urls: [`http://127.0.0.1:${port}`], inFlight: 2, timeoutMs: 5000, maxBackoffMs: 200, log: pino({ level: 'silent' }), connectionMaxRequests: 40 })
    closers.push(() => p.close())
    await publishN(p, 200)
    // A new replica behind the same address (what the HPA adds).
    backends.push(await backend())
    await publishN(p, 600)
    const counts = backends.map((b) => b.requests)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(800)
    // The late backend gets a fair part of the traffic after it appeared (600 requests over 3 backends).
    expect(counts[2], `requests per backend: ${counts.join(', ')}`).toBeGreaterThan(100)
    expect(p.recycled).toBeGreaterThan(5)
  }, 60_000)

  it('recycles by age too, and the requests of a replaced pool are all answered', async () => {
    const backends = [await backend(), await backend(), await backend()]
    const port = await balancer(backends)
    const p = new Publisher({ urls: [`http://127.0.0.1:${port}`], inFlight: 1, timeoutMs: 5000, maxBackoffMs: 200, log: pino({ level: 'silent' }), connectionMaxRequests: 1_000_000, connectionMaxAgeMs: 20 })
    closers.push(() => p.close())
    for (let round = 0; round < 6; round++) {
      await publishN(p, 20)
      await new Promise((r) => setTimeout(r, 30))
    }
    expect(backends.map((b) => b.requests).reduce((a, b) => a + b, 0)).toBe(120)
    expect(backends.every((b) => b.requests > 0), backends.map((b) => b.requests).join(', ')).toBe(true)
  }, 60_000)
})
