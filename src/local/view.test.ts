import { describe, expect, it } from 'vitest'
import type { DevStatus } from './status.js'
import { formatTotals, statusAtStop } from './view.js'

function status(over: Partial<DevStatus>): DevStatus {
  return {
    processes: [],
    counts: {},
    publishesPerSecond: 0,
    persistedPerSecond: 0,
    published: 0,
    persisted: 0,
    skipped: 0,
    lastSkip: null,
    queueDepth: 0,
    leased: 0,
    deadLetters: 0,
    database: { reachable: true, error: null },
    readers: [],
    scrapers: [],
    generation: 1,
    apigwUrl: 'http://127.0.0.1:8080',
    swaggerUrl: 'http://127.0.0.1:8080/swagger',
    ...over,
  } as DevStatus
}

describe('the totals tpipe dev prints when it stops', () => {
  it('count as persisted what the collectors stored while the queue drained, not only before it', () => {
    // Seen by hand: published 16,998, persisted 16,982 (read as the streamers stopped), telemetry rows 16,998.
    const atStreamersStopped = status({ published: 16_998, persisted: 16_982, queueDepth: 16, deadLetters: 0 })
    const atReadersDrained = status({ published: 16_998, persisted: 16_998, queueDepth: 0, deadLetters: 0 })
    const atEnd = status({ published: 0, persisted: 0, queueDepth: 0, deadLetters: 0 })
    const line = formatTotals(statusAtStop(atStreamersStopped, atReadersDrained, atEnd), 16_998, false)
    expect(line).toBe('totals: published 16,998   persisted 16,998   skipped 0   dead letters 0   left in queue 0   telemetry rows 16,998')
  })

  it('fall back to what was read earlier when a later read failed', () => {
    const s = statusAtStop(status({ published: 10, persisted: 8, queueDepth: 2, deadLetters: 1 }), undefined, undefined)
    expect([s.published, s.persisted, s.queueDepth, s.deadLetters]).toEqual([10, 8, 2, 1])
  })
})
