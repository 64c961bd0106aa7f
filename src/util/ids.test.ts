import { describe, expect, it } from 'vitest'
import { uuidv7 } from './ids.js'

describe('uuidv7', () => {
  it('has version 7, the RFC 9562 variant and the timestamp in the first 48 bits', () => {
    const now = Date.UTC(2026, 10, 27, 12, 0, 0)
    const id = uuidv7(now)
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now)
  })

  it('is unique and sorts in creation order, also within one millisecond', () => {
    const ids = Array.from({ length: 20000 }, () => uuidv7())
    expect(new Set(ids).size).toBe(ids.length)
    expect([...ids].sort()).toEqual(ids)
    const sameMs = Array.from({ length: 100 }, () => uuidv7(1_800_000_000_000))
    expect([...sameMs].sort()).toEqual(sameMs)
  })
})
