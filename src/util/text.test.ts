import { describe, expect, it } from 'vitest'
import { clipCodePoints, storableMessage } from './text.js'

describe('text bounded for PostgreSQL', () => {
  it('clips on code points: never half of a surrogate pair', () => {
    expect(clipCodePoints('abc', 5)).toBe('abc')
    expect(clipCodePoints('abcdef', 3)).toBe('abc')
    expect(clipCodePoints('a\u{1F600}b', 2)).toBe('a')
    expect(clipCodePoints('a\u{1F600}b', 3)).toBe('a\u{1F600}')
  })

  it('a message is clipped on code points and its lone surrogates become U+FFFD', () => {
    const m = storableMessage(`x${'\u{1F600}'.repeat(1000)}`, 2000)
    expect(m.length).toBe(1999)
    expect((m as string & { isWellFormed(): boolean }).isWellFormed()).toBe(true)
    expect(storableMessage('x\uD800y', 10)).toBe('x\uFFFDy')
  })
})
