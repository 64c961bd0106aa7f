import { describe, expect, it } from 'vitest'
import { decodeCursor, encodeCursor, isRfc3339 } from './cursor.js'
import { csvHeader, csvRows, table, type Column } from './format.js'
import { telemetryPage } from './sql.js'

describe('cursor', () => {
  it('round-trips (ts, msg_uuid) with microseconds and rejects anything else', () => {
    const c = encodeCursor('2026-01-01T00:00:04.000002Z', '0190b5f2-6b1e-7c3a-8d4e-5f6a7b8c9d0e')
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(decodeCursor(c)).toEqual({ ts: '2026-01-01T00:00:04.000002Z', msgUuid: '0190b5f2-6b1e-7c3a-8d4e-5f6a7b8c9d0e', desc: false })
    // A newest-first page's cursor remembers its order.
    expect(decodeCursor(encodeCursor('2026-01-01T00:00:04.000002Z', '0190b5f2-6b1e-7c3a-8d4e-5f6a7b8c9d0e', true))).toEqual({ ts: '2026-01-01T00:00:04.000002Z', msgUuid: '0190b5f2-6b1e-7c3a-8d4e-5f6a7b8c9d0e', desc: true })
    for (const bad of ['', 'abc', 'a b', Buffer.from('["2026-01-01T00:00:00Z"]').toString('base64url'), Buffer.from('["yesterday","0190b5f2-6b1e-7c3a-8d4e-5f6a7b8c9d0e"]').toString('base64url'), 'x'.repeat(201), Buffer.from('["2026-01-01T00:00:00Z","0190b5f2-6b1e-7c3a-8d4e-5f6a7b8c9d0e","asc"]').toString('base64url')]) {
      expect(decodeCursor(bad)).toBeUndefined()
    }
  })

  it('accepts RFC 3339 times only', () => {
    expect(isRfc3339('2025-07-18T20:42:34Z')).toBe(true)
    expect(isRfc3339('2025-07-18T20:42:34.123456+02:00')).toBe(true)
    expect(isRfc3339('2025-07-18T20:42:34')).toBe(false)
    expect(isRfc3339('2024-02-29T23:59:59Z')).toBe(true)
    for (const bad of ['2025-02-29T00:00:00Z', '2025-02-30T00:00:00Z', '2025-13-01T00:00:00Z', '2025-00-10T00:00:00Z', '2025-01-01T24:00:00Z', '2025-01-01T00:60:00Z', '2025-01-01T00:00:00+24:00']) {
      expect(isRfc3339(bad), bad).toBe(false)
    }
  })
})

describe('page query', () => {
  it('adds the keyset and metric conditions only when asked, under distinct statement names', () => {
    const base = telemetryPage({ id: 'g', start: '-infinity', end: 'infinity', metrics: [], limit: 10 })
    expect(base.values).toEqual(['g', '-infinity', 'infinity', 11])
    expect(base.text).not.toMatch(/ROW|\(t\.ts, t\.msg_uuid\) >|ANY/)
    const full = telemetryPage({ id: 'g', start: 'a', end: 'b', metrics: ['m1', 'm2'], limit: 10, after: { ts: 't', msgUuid: 'u' } })
    expect(full.values).toEqual(['g', 'a', 'b', 11, 't', 'u', ['m1', 'm2']])
    expect(full.text).toMatch(/\(t\.ts, t\.msg_uuid\) > \(\$5::timestamptz, \$6::uuid\)/)
    expect(full.text).toMatch(/t\.metric_name = ANY\(\$7::text\[\]\)/)
    expect(full.text).toMatch(/ORDER BY t\.ts, t\.msg_uuid LIMIT \$4/)
    expect(new Set([base.name, full.name, telemetryPage({ id: 'g', start: 'a', end: 'b', metrics: ['m'], limit: 1 }).name]).size).toBe(3)
  })
})

describe('output formats', () => {
  const cols: Column<{ a: string; b: number | null }>[] = [
    ['name', (r) => r.a],
    ['n', (r) => r.b],
  ]
  it('aligns table columns and quotes CSV only where needed', () => {
    expect(table([{ a: 'x', b: 1 }, { a: 'longer', b: null }], cols)).toBe('NAME    N\nx       1\nlonger  ')
    expect(csvHeader(cols)).toBe('name,n')
    expect(csvRows([{ a: 'a,"b"', b: 2 }], cols)).toEqual(['"a,""b""",2'])
  })
})
