import { Value } from '@sinclair/typebox/value'
import { describe, expect, it } from 'vitest'
import '../protocol/formats.js'
import { publishBodySchema } from '../protocol/publish.js'
import { unstorableEscape } from '../protocol/unstorable.js'
import { validatePublishBody } from './validate.js'

describe('validatePublishBody', () => {
  it.each([
    [{ key: 'k', payload: {} }, 1],
    [[{ key: 'k', payload: {} }, { key: 'k2', payload: { a: 1 }, id: '0190a0c8-5f3e-7a43-b711-4771313afc50' }], 2],
  ])('accepts %j', (body, n) => {
    const r = validatePublishBody(body, 10)
    expect('messages' in r && r.messages.length).toBe(n)
  })

  it.each([
    [null, /body must be an object/],
    ['text', /body must be an object/],
    [{ key: '', payload: {} }, /key must be 1\.\.1024 characters/],
    [{ key: 'k'.repeat(1025), payload: {} }, /key must be 1\.\.1024/],
    [{ key: 'GPU-\uD800', payload: {} }, /key holds NUL or a lone UTF-16 surrogate/],
    [{ key: 'GPU-\u0000', payload: {} }, /key holds NUL or a lone UTF-16 surrogate/],
    [{ key: 'k', payload: null }, /payload must be an object/],
    [{ key: 'k', payload: {}, id: 5 }, /id must be a UUID/],
    [[{ key: 'k', payload: {} }, 3], /body\/1 must be an object/],
    [Array.from({ length: 11 }, () => ({ key: 'k', payload: {} })), /at most 10 per publish/],
  ])('rejects %j', (body, message) => {
    const r = validatePublishBody(body, 10)
    expect('error' in r && r.error).toMatch(message)
  })

  it('accepts exactly what the PublishMessage schema (src/protocol/publish.ts) accepts', () => {
    const ok = { key: 'k', payload: { a: [1] } }
    const bodies: unknown[] = [
      ok,
      [ok, { ...ok, id: '0190a0c8-5f3e-7a43-b711-4771313afc50' }],
      [],
      Array.from({ length: 11 }, () => ok),
      { ...ok, id: 'not-a-uuid' },
      { ...ok, extra: 1 },
      { key: 'k' },
      { payload: {} },
      { key: 'k'.repeat(1024), payload: {} },
      { key: 'k'.repeat(1025), payload: {} },
      { key: 'k', payload: [] },
      { key: 'k', payload: 'text' },
      { key: 5, payload: {} },
      [ok, null],
      null,
      'text',
    ]
    for (const body of bodies) {
      expect('messages' in validatePublishBody(body, 10), JSON.stringify(body)?.slice(0, 80)).toBe(Value.Check(publishBodySchema(10), body))
    }
  })
})

describe('unstorableEscape', () => {
  it('finds NUL and lone surrogates in JSON.stringify output, and nothing in text that only looks like them', () => {
    const of = (v: unknown) => unstorableEscape(JSON.stringify(v))
    expect(of({ s: 'a\u0000b' })).toBe('\\u0000')
    expect(of({ s: 'x\uD800' })).toBe('\\ud800')
    expect(of({ s: '\uDC00y' })).toBe('\\udc00')
    expect(of({ ['k\u0000']: 1 })).toBe('\\u0000')
    expect(of({ s: 'back\\\u0000slash' })).toBe('\\u0000') // a backslash, then NUL: "\\\u0000"
    expect(of({ s: '😀 日本 \u0001 \u001f é' })).toBeUndefined() // pairs are characters; other controls are storable
    expect(of({ s: '\\u0000 and \\ud800 as text' })).toBeUndefined() // "\\u0000": an escaped backslash, then text
    expect(of({ s: '\\\\u0000' })).toBeUndefined()
    expect(of({ n: 1, a: [true, null, 'plain'] })).toBeUndefined()
  })
})
