import { describe, expect, it } from 'vitest'
import { bundleId } from '../protocol/bundle.js'
import { hashUuid, textBytes, uuidv7 } from './ids.js'

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

describe('hashUuid', () => {
  it('keeps the ids stored before: bundle ids as computed with createHash before the helper was shared', () => {
    // bundleId(ids) of 2026-11-30 (e485070): createHash('sha256').update('tpipe-bundle\0').update(ids.join(',')).
    const ids = ['0194f0a2-0000-7000-8000-000000000001', '0194f0a2-0000-7000-8000-000000000002']
    expect(bundleId(ids)).toBe('c1dddd86-b142-8ede-a5f1-79648a0f5e75')
    expect(hashUuid(`tpipe-bundle\0${ids.join(',')}`)).toBe('c1dddd86-b142-8ede-a5f1-79648a0f5e75')
  })
})

describe('textBytes', () => {
  it('counts one byte a character for Latin-1 text, two otherwise', () => {
    expect(textBytes('abcé')).toBe(4)
    expect(textBytes('ab€')).toBe(6)
  })
})
