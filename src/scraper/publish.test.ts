// Issue 12 defect 4 for the scraper: its publisher to mqwriter recycles connections like the streamer's
// (both go through src/http/publish-client.ts), so mqwriter replicas added behind the Service get scrape
// batches too. The balancer assigns each new connection to the next backend, as kube-proxy does.
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { Balancer } from '../../test/support/balancer.js'
import type { TelemetryMessage } from '../scrape/dcgm.js'
import { BatchPublisher } from './publish.js'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

const batch = (i: number) => [{ key: `gpu-${i}`, id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`, payload: { i } }] as unknown as TelemetryMessage[]

describe('BatchPublisher connection recycling (issue 12 defect 4)', () => {
  it('spreads scrape batches over every mqwriter behind one per-connection balancer, including one added later', async () => {
    const lb = await Balancer.start(2)
    closers.push(() => lb.close())
    const p = new BatchPublisher({ urls: [`http://127.0.0.1:${lb.port}`], inFlight: 2, timeoutMs: 5000, maxBackoffMs: 200, log: pino({ level: 'silent' }), connectionMaxRequests: 40 })
    closers.push(() => p.close())
    const send = async (from: number, n: number) => {
      const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => p.publish(batch(from + i), Date.now() + 10_000)))
      expect(new Set(outcomes)).toEqual(new Set(['published']))
    }
    await send(0, 200)
    await lb.addBackend() // what the HPA adds
    await send(200, 600)
    expect(lb.counts.reduce((a, b) => a + b, 0)).toBe(800)
    expect(lb.counts[2], `batches per backend: ${lb.counts.join(', ')}`).toBeGreaterThan(100)
    expect(p.recycled).toBeGreaterThan(5)
  }, 60_000)

  it('recycles by age too (a slow scrape interval still reaches new replicas)', async () => {
    const lb = await Balancer.start(3)
    closers.push(() => lb.close())
    const p = new BatchPublisher({ urls: [`http://127.0.0.1:${lb.port}`], inFlight: 1, timeoutMs: 5000, maxBackoffMs: 200, log: pino({ level: 'silent' }), connectionMaxAgeMs: 20 })
    closers.push(() => p.close())
    for (let round = 0; round < 6; round++) {
      expect(await p.publish(batch(round), Date.now() + 10_000)).toBe('published')
      await new Promise((r) => setTimeout(r, 30))
    }
    expect(lb.counts.every((n) => n > 0), lb.counts.join(', ')).toBe(true)
  }, 60_000)
})
