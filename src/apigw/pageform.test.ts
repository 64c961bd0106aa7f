import { describe, expect, it } from 'vitest'
import { PageForms } from './pageform.js'

describe('PageForms: by time or row by row, per GPU', () => {
  it('reads an unknown GPU by time and keeps doing so while its rows share times', () => {
    const f = new PageForms()
    expect(f.byTime('a')).toBe(true)
    f.observe('a', 1001, 101) // ten metrics a time: a scrape's shape
    expect(f.byTime('a')).toBe(true)
    f.observe('a', 1001, 501) // two rows a time still pay: a full page of them, with the row past the limit
    expect(f.byTime('a')).toBe(true)
    f.observe('a', 1001, 502)
    expect(f.byTime('a')).toBe(false)
    for (let i = 0; i < 31; i++) f.byTime('a')
    f.observe('a', 1001, 501)
    expect(f.byTime('a')).toBe(true)
    expect(f.remembered).toBe(0)
  })

  it('reads a GPU whose rows have their own times row by row, and tries by time again after retryAfter pages', () => {
    const f = new PageForms(3)
    expect(f.byTime('csv')).toBe(true)
    f.observe('csv', 1001, 1001)
    expect([f.byTime('csv'), f.byTime('csv'), f.byTime('csv')]).toEqual([false, false, false])
    expect(f.byTime('csv')).toBe(true) // the retry
    f.observe('csv', 1001, 990)
    expect(f.byTime('csv')).toBe(false)
    // Its source changed: shared times again, back to by time at the next retry and for good.
    expect([f.byTime('csv'), f.byTime('csv')]).toEqual([false, false])
    expect(f.byTime('csv')).toBe(true)
    f.observe('csv', 1001, 100)
    expect([f.byTime('csv'), f.byTime('csv'), f.byTime('csv'), f.byTime('csv')]).toEqual([true, true, true, true])
  })

  it('learns nothing from small pages, and each GPU on its own', () => {
    const f = new PageForms()
    f.observe('small', 15, 15)
    expect(f.byTime('small')).toBe(true)
    f.observe('csv', 16, 16)
    expect(f.byTime('csv')).toBe(false)
    expect(f.byTime('other')).toBe(true)
  })

  it('remembers at most maxGpus GPUs', () => {
    const f = new PageForms(32, 100)
    for (let i = 0; i < 1000; i++) {
      f.observe(`gpu-${i}`, 1001, 1001)
      expect(f.remembered).toBeLessThanOrEqual(100)
    }
    expect(f.byTime('gpu-999')).toBe(false)
  })
})
