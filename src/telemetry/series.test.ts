import { describe, expect, it } from 'vitest'
import { SeriesCache, seriesId } from './series.js'

describe('seriesId', () => {
  it('is a version-8 UUID fixed by the labels JSON text', () => {
    const a = seriesId('{"UUID":"GPU-1","job":"dcgm"}')
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(seriesId('{"UUID":"GPU-1","job":"dcgm"}')).toBe(a)
    expect(seriesId('{"UUID":"GPU-2","job":"dcgm"}')).not.toBe(a)
  })
})

describe('SeriesCache', () => {
  it('knows a label set only once the statement that wrote it committed, and for refreshMs', () => {
    const c = new SeriesCache(1 << 20, 1000)
    const key = '{"UUID":"GPU-1"}'
    const first = c.lookup(key, 0)
    expect(first).toEqual({ id: seriesId(key), known: false })
    expect(c.lookup(key, 10).known).toBe(false)
    c.committed([[key, first.id]], 10)
    expect(c.lookup(key, 500)).toEqual({ id: first.id, known: true })
    expect(c.lookup(key, 1010).known).toBe(false)
    c.committed([[key, first.id]], 1010)
    expect(c.lookup(key, 1500).known).toBe(true)
    expect(c.size).toBe(1)
  })

  it('stays within its bytes: when full, the older half is forgotten', () => {
    const c = new SeriesCache(20_000)
    for (let i = 0; i < 1000; i++) {
      const key = `{"UUID":"GPU-${i}","pad":"${'x'.repeat(100)}"}`
      c.committed([[key, seriesId(key)]], i)
      expect(c.heldBytes).toBeLessThanOrEqual(20_000)
    }
    expect(c.size).toBeGreaterThan(10)
    // The newest is kept, the oldest went.
    expect(c.lookup(`{"UUID":"GPU-999","pad":"${'x'.repeat(100)}"}`, 1000).known).toBe(true)
    expect(c.lookup(`{"UUID":"GPU-0","pad":"${'x'.repeat(100)}"}`, 1000).known).toBe(false)
  })

  it('with 0 bytes it is off and remembers nothing', () => {
    const c = new SeriesCache(0)
    expect(c.enabled).toBe(false)
    c.committed([['{}', seriesId('{}')]], 0)
    expect(c.size).toBe(0)
  })
})
