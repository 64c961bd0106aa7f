import { describe, expect, it } from 'vitest'
import { sleep, waitFor } from './async.js'

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let n = 0
    expect(await waitFor(() => (++n >= 3 ? `after ${n}` : undefined), { intervalMs: 1 })).toBe('after 3')
  })

  it('treats an error as "not yet" and names the last one on timeout', async () => {
    let n = 0
    expect(await waitFor(() => {
      if (++n < 3) throw new Error('ECONNREFUSED')
      return true
    }, { intervalMs: 1 })).toBe(true)
    await expect(waitFor(() => Promise.reject(new Error('ECONNREFUSED')), { timeoutMs: 30, intervalMs: 5, what: 'the server' })).rejects.toThrow(
      /timed out after 30 ms waiting for the server: Error: ECONNREFUSED/,
    )
  })

  it('with failFast, an error ends the wait at once', async () => {
    const started = Date.now()
    await expect(waitFor(() => Promise.reject(new Error('child exited')), { timeoutMs: 10_000, failFast: true })).rejects.toThrow('child exited')
    expect(Date.now() - started).toBeLessThan(5_000)
  })
})

describe('sleep', () => {
  it('ends early when its signal aborts', async () => {
    const ac = new AbortController()
    const started = Date.now()
    setTimeout(() => ac.abort(), 10)
    await sleep(10_000, ac.signal)
    expect(Date.now() - started).toBeLessThan(5_000)
  })
})
