// The scrape schedule without a network: a target that never answers keeps its scrape running, and fake
// timers fire its slots while the manager's clock reads a millisecond behind them (as Date.now() can when
// a timer, run on the monotonic clock, fires).
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Registry } from '../metrics/index.js'
import { ScrapeManager, staticTarget } from './manager.js'
import type { BatchPublisher } from './publish.js'

afterEach(() => {
  vi.useRealTimers()
})

async function missedAndSlots(skewMs: number): Promise<{ missed: number; lagged: number }> {
  const server = http.createServer(() => {}) // never answers: the first scrape stays running
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  let skew = 0
  const registry = new Registry()
  const manager = new ScrapeManager({
    intervalMs: 10_000,
    timeoutMs: 60_000,
    concurrency: 4,
    maxBodyBytes: 1_000_000,
    maxPending: 100_000,
    publishBatch: 1000,
    prefix: 'DCGM_',
    job: 'test',
    publisher: { publish: async () => {} } as unknown as BatchPublisher,
    log: pino({ level: 'silent' }),
    registry,
    now: () => Date.now() - skew,
  })
  try {
    manager.setTargets([staticTarget(url)])
    skew = skewMs
    await vi.advanceTimersByTimeAsync(10_000) // the first slot fires: its scrape starts and hangs
    await vi.advanceTimersByTimeAsync(50)
    const values = (await registry.getSingleMetric('scraper_scrapes_total')!.get()).values
    const lag = (await registry.getSingleMetric('scraper_scrape_lag_seconds')!.get()).values
    return {
      missed: values.find((v) => v.labels.result === 'missed')?.value ?? 0,
      lagged: lag.find((v) => (v as { metricName?: string }).metricName === 'scraper_scrape_lag_seconds_count')?.value ?? 0,
    }
  } finally {
    vi.useRealTimers()
    server.closeAllConnections()
    server.close()
    await manager.stop()
  }
}

describe('ScrapeManager schedule', () => {
  it('a slot whose timer fires a millisecond before the clock reaches it is scraped once, not counted missed', async () => {
    expect(await missedAndSlots(1)).toEqual({ missed: 0, lagged: 1 })
  })

  it('with the clocks agreeing: one scrape per slot, none missed', async () => {
    expect(await missedAndSlots(0)).toEqual({ missed: 0, lagged: 1 })
  })
})
