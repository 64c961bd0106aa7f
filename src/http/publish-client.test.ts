import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { PublishClient, TRANSIENT_STATUS } from './publish-client.js'

describe('PublishClient', () => {
  it('many posts waiting to retry at once share its stop signal without a MaxListenersExceededWarning', async () => {
    // npm test printed "MaxListenersExceededWarning: … 11 abort listeners added to [AbortSignal]" (issue 13
    // item 11): every post waiting on its backoff listens on the one stop signal, and a streamer or scraper
    // has many posts in flight while mqwriter is away. A listener per waiting post is by design.
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`)
    process.on('warning', onWarning)
    const client = new PublishClient({
      urls: ['http://127.0.0.1:1'], // nothing listens: every post is refused and waits to retry
      connections: 4,
      timeoutMs: 1000,
      maxBackoffMs: 200,
      log: pino({ level: 'silent' }),
      retryStatus: TRANSIENT_STATUS,
    })
    try {
      const posts = Array.from({ length: 32 }, () => client.post('{}', { retryMessage: 'retrying', deadline: Date.now() + 1500 }))
      const results = await Promise.all(posts)
      expect(results.every((r) => r.outcome === 'abandoned')).toBe(true)
      await new Promise((r) => setImmediate(r))
    } finally {
      process.off('warning', onWarning)
      await client.close()
    }
    expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([])
  })
})
