// One lifecycle for every service: build → listen → start → (signal, or the service finishes) →
// stop → app.close → pool.end, bounded by the shutdown timeout. Exercised in-process through
// startService (runService adds only signals and process.exit); no database needed: the pool is faked.
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../config/index.js'
import type { Pool } from '../db/index.js'
import { createRegistry } from '../metrics/index.js'
import { startService, type Connector } from './run.js'
import { buildServer } from './server.js'
import type { Service, ServiceHost } from './service.js'

const log = pino({ level: 'silent' })
const config = loadConfig({ port: '0', host: '127.0.0.1', 'shutdown-timeout-ms': '500' }, { TPIPE_DEFAULT_METRICS: 'false' }, 'mqwriter')

function recordingService(events: string[], opts: { hangOnStop?: boolean; onStart?: (host: ServiceHost) => void } = {}): Service {
  const app = buildServer({ service: 'test', logger: log, bodyLimitBytes: 1024, registry: createRegistry({ defaultMetrics: false }) })
  app.addHook('onClose', async () => void events.push('app.close'))
  return {
    app,
    start(host) {
      events.push(`start ${host.address.startsWith('http://127.0.0.1:') ? 'with address' : host.address}`)
      opts.onStart?.(host)
    },
    stop: () => {
      events.push('stop')
      return opts.hangOnStop ? new Promise<void>(() => {}) : undefined
    },
  }
}

function fakeConnector(events: string[]): Connector & { resolved: number } {
  const c = {
    resolved: 0,
    async resolveUrl() {
      c.resolved++
      events.push('resolve url')
      return 'postgres://u@h/db'
    },
    createPool(url: string) {
      events.push(`pool ${url}`)
      return { end: async () => void events.push('pool.end') } as unknown as Pool
    },
  }
  return c
}

describe('startService', () => {
  it('starts after listen and stops in one order: stop → app.close → pool.end; the pool and its URL reach build once', async () => {
    const events: string[] = []
    const connector = fakeConnector(events)
    let seen: { pool: Pool; databaseUrl: string } | undefined
    const running = await startService(
      {
        service: 'test',
        config,
        database: {},
        build: ({ pool, databaseUrl }) => {
          seen = { pool, databaseUrl }
          events.push('build')
          return recordingService(events)
        },
      },
      log,
      connector,
    )
    expect(seen?.databaseUrl).toBe('postgres://u@h/db')
    expect(connector.resolved).toBe(1)
    expect((await fetch(`${running.address}/healthz`)).status).toBe(200)
    expect(await running.shutdown('SIGTERM')).toBe(0)
    expect(await running.done).toBe(0)
    expect(events).toEqual(['resolve url', 'pool postgres://u@h/db', 'build', 'start with address', 'stop', 'app.close', 'pool.end'])
    // A second signal does not stop twice.
    expect(await running.shutdown('SIGINT')).toBe(0)
    expect(events.filter((e) => e === 'stop')).toHaveLength(1)
  })

  it('a service that finishes by itself shuts down the same way: exit 0, or 1 with an error', async () => {
    for (const err of [undefined, new Error('csv gone')]) {
      const events: string[] = []
      const running = await startService(
        { service: 'test', config, build: () => recordingService(events, { onStart: (host) => setTimeout(() => host.finish(err), 10) }) },
        log,
        fakeConnector(events),
      )
      expect(await running.done).toBe(err ? 1 : 0)
      expect(events).toEqual(['start with address', 'stop', 'app.close'])
    }
  })

  it('a stop that hangs is cut off by the shutdown timeout: exit code 1', async () => {
    const events: string[] = []
    const running = await startService({ service: 'test', config, build: () => recordingService(events, { hangOnStop: true }) }, log, fakeConnector(events))
    const started = Date.now()
    expect(await running.shutdown('SIGTERM')).toBe(1)
    expect(Date.now() - started).toBeGreaterThanOrEqual(450)
    await running.service.app.close()
  })
})
