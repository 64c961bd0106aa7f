import { describe, expect, it } from 'vitest'
import { isDataError, isUnavailable } from './errors.js'

describe('database error classes', () => {
  it.each([
    ['22P02', true], // invalid text representation
    ['22003', true], // numeric out of range
    ['22P05', true], // untranslatable character (\u0000 in jsonb)
    ['23505', true], // unique violation
    ['40P01', false], // deadlock: retry, never dead-letter
    ['40001', false], // serialization failure
    ['57014', false], // statement cancelled (timeout)
    ['53200', false], // out of memory
    ['57P01', false], // admin shutdown
  ])('%s is a data error: %s', (code, expected) => {
    expect(isDataError({ code, message: 'x' })).toBe(expected)
  })

  it('knows connection failures, including a pool that timed out connecting', () => {
    expect(isUnavailable({ code: 'ECONNREFUSED' })).toBe(true)
    expect(isUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true)
    expect(isUnavailable({ code: '57P01' })).toBe(true)
    expect(isUnavailable({ code: '22P02', message: 'invalid input syntax' })).toBe(false)
    expect(isDataError(new Error('Connection terminated unexpectedly'))).toBe(false)
  })
})
