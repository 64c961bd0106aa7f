// Issue 12 defect 4: kube-proxy balances per connection, so a keep-alive pool to a Service sticks to the
// pods it first reached and replicas added later (the HPA scaling mqwriter) get nothing. Here a TCP
// balancer in front of several HTTP servers assigns each new connection to the next backend, as kube-proxy
// does; the publisher must spread its requests over every backend, including one added while it runs.
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { Balancer } from '../../test/support/balancer.js'
import { Publisher } from './publisher.js'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

async function publishN(p: Publisher, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await p.send(`k${i}`, { i })
  await p.drain()
}

describe('Publisher connection recycling (defect 4)', () => {
  it('spreads requests over every backend behind one per-connection balancer, including one added later', async () => {
    const lb = await Balancer.start(2)
    closers.push(() => lb.close())
    const p = new Publisher({ urls: [`http://127.0.0.1:${lb.port}`], inFlight: 2, timeoutMs: 5000, maxBackoffMs: 200, log: pino({ level: 'silent' }), connectionMaxRequests: 40 })
    closers.push(() => p.close())
    await publishN(p, 200)
    // A new replica behind the same address (what the HPA adds).
    await lb.addBackend()
    await publishN(p, 600)
    const counts = lb.counts
    expect(counts.reduce((a, b) => a + b, 0)).toBe(800)
    // The late backend gets a fair part of the traffic after it appeared (600 requests over 3 backends).
    expect(counts[2], `requests per backend: ${counts.join(', ')}`).toBeGreaterThan(100)
    expect(p.recycled).toBeGreaterThan(5)
  }, 60_000)

  it('recycles by age too, and the requests of a replaced pool are all answered', async () => {
    const lb = await Balancer.start(3)
    closers.push(() => lb.close())
    const p = new Publisher({ urls: [`http://127.0.0.1:${lb.port}`], inFlight: 1, timeoutMs: 5000, maxBackoffMs: 200, log: pino({ level: 'silent' }), connectionMaxRequests: 1_000_000, connectionMaxAgeMs: 20 })
    closers.push(() => p.close())
    for (let round = 0; round < 6; round++) {
      await publishN(p, 20)
      await new Promise((r) => setTimeout(r, 30))
    }
    expect(lb.counts.reduce((a, b) => a + b, 0)).toBe(120)
    expect(lb.counts.every((n) => n > 0), lb.counts.join(', ')).toBe(true)
  }, 60_000)
})
