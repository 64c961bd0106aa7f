import { describe, expect, it } from 'vitest'
import { CliFailure } from './base.js'
import { flagDuration, flagTime, parseFlagTime, windowParams } from './time.js'

const NOW = Date.parse('2026-11-30T10:20:30.000Z')

describe('time flags', () => {
  it.each([
    ['2025-07-18T20:42:34Z', '2025-07-18T20:42:34Z', '2025-07-18T20:42:34.000Z'],
    ['2025-07-18T20:42:34.123456+02:00', '2025-07-18T20:42:34.123456+02:00', '2025-07-18T18:42:34.123Z'],
    ['2025-07-18', '2025-07-18T00:00:00Z', '2025-07-18T00:00:00.000Z'],
    ['2025-07-18T20:42', '2025-07-18T20:42:00Z', '2025-07-18T20:42:00.000Z'],
    ['2025-07-18 20:42:05', '2025-07-18T20:42:05Z', '2025-07-18T20:42:05.000Z'],
    ['now', 'now', '2026-11-30T10:20:30.000Z'],
    ['today', '2026-11-30T00:00:00.000Z', '2026-11-30T00:00:00.000Z'],
    ['Yesterday', '2026-11-29T00:00:00.000Z', '2026-11-29T00:00:00.000Z'],
    ['-1h', '-1h', '2026-11-30T09:20:30.000Z'],
    ['2h ago', '-2h', '2026-11-30T08:20:30.000Z'],
    ['15 m ago', '-15m', '2026-11-30T10:05:30.000Z'],
    ['7d ago', '-7d', '2026-11-23T10:20:30.000Z'],
  ])('%s → %s', (raw, param, iso) => {
    const t = parseFlagTime(raw, NOW)!
    expect(t.param).toBe(param)
    expect(new Date(t.ms).toISOString()).toBe(iso)
  })

  it.each(['soon', '2025-02-30', '2025-07-18T25:00', '-1y', '1h', 'ago', '-', ''])('refuses %j', (raw) => {
    expect(parseFlagTime(raw, NOW)).toBeUndefined()
  })

  it('names the flag as typed, with every accepted form, as a usage error (exit 2)', () => {
    let err: unknown
    try {
      flagTime('end', 'tomorrow', NOW)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(CliFailure)
    expect((err as CliFailure).exit).toBe(2)
    expect((err as CliFailure).message).toMatch(/^--end "tomorrow" is not a time: use RFC 3339 .* yesterday, or relative to now \(-1h, 15m ago, 7d ago\)$/)
    expect(() => flagDuration('since', '1 hour')).toThrow('--since "1 hour" is not a duration such as 15m, 1h, 24h or 7d')
  })

  it('turns --start/--end/--since into the API parameters, checked together', () => {
    expect(windowParams({ since: '1h' }, NOW)).toEqual({ query: [['window', '1h']], startMs: NOW - 3_600_000, endMs: NOW })
    expect(windowParams({ start: 'yesterday', end: '2h ago' }, NOW).query).toEqual([['start', '2026-11-29T00:00:00.000Z'], ['end', '-2h']])
    expect(windowParams({}, NOW)).toEqual({ query: [] })
    expect(() => windowParams({ start: 'now', end: '-1h' }, NOW)).toThrow('--start now is after --end -1h')
    expect(() => windowParams({ start: '-2h', since: '1h' }, NOW)).toThrow(/give --since or --start, not both/)
  })
})
