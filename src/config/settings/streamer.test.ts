import { describe, expect, it } from 'vitest'
import { parseRate, parseShard } from './streamer.js'

describe('streamer settings', () => {
  it('parses shards and rates', () => {
    expect(parseShard('1/3')).toMatchObject({ index: 1, count: 3 })
    expect(String(parseShard(' 1 / 3 '))).toBe('1/3')
    expect(() => parseShard('3/3')).toThrow(/0 <= i < n/)
    expect(() => parseShard('x')).toThrow()
    expect(parseRate('max')).toBe(0)
    expect(parseRate('250.5')).toBe(250.5)
    expect(() => parseRate('-1')).toThrow()
  })
})
