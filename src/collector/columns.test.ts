import { describe, expect, it } from 'vitest'
import { columnsOf, element, TELEMETRY_COLUMNS, TelemetryColumns } from './columns.js'

describe('array literal elements', () => {
  it('quotes text so that commas, braces, spaces, quotes, backslashes and the word NULL stay literal', () => {
    expect(element('a,b {c} "d" \\e', 'x')).toBe('"a,b {c} \\"d\\" \\\\e"')
    expect(element('NULL', 'x')).toBe('"NULL"')
    expect(element('', 'x')).toBe('""')
    expect(element(null, 'x')).toBe('NULL')
    expect(element(undefined, 'x')).toBe('NULL')
    expect(element(-1.5e-7, 'x')).toBe('-1.5e-7')
    expect(element({ a: '"' }, 'x')).toBe('"{\\"a\\":\\"\\\\\\"\\"}"')
  })

  it('refuses what PostgreSQL cannot hold, naming the column', () => {
    expect(() => element('a\0b', 'hostname')).toThrow(/hostname holds NUL/)
    expect(() => element('a\uD800b', 'device')).toThrow(/device holds a lone UTF-16 surrogate/)
    expect(() => element(Number.NaN, 'value')).toThrow(/value is NaN/)
    expect(() => element(Infinity, 'value')).toThrow(/value is Infinity/)
    expect(element('astral \u{1F600}', 'x')).toBe('"astral \u{1F600}"')
  })
})

describe('TelemetryColumns', () => {
  const row = { msg_uuid: '00000000-0000-4000-8000-000000000001', gpu_uuid: 'GPU-1', gpu_id: 3, device: 'nvidia3', hostname: 'h', model_name: 'm', metric_name: 'DCGM_FI_DEV_GPU_UTIL', value: 42, ts: '2026-12-01T00:00:00.000Z', container: null, pod: null, namespace: null, labels: { a: 'b' }, series_id: null }

  it('one literal a column, in column order; fields telemetry has no column for are never read', () => {
    let deep: Record<string, unknown> = { leaf: 1 }
    for (let i = 0; i < 20_000; i++) deep = { a: deep }
    const c = columnsOf([row, { ...row, gpu_id: 4, labels: null, extra: deep }])
    expect(c.length).toBe(2)
    const lits = c.literals()
    expect(lits).toHaveLength(TELEMETRY_COLUMNS.length)
    expect(lits[TELEMETRY_COLUMNS.findIndex(([n]) => n === 'gpu_id')]).toBe('{3,4}')
    expect(lits[TELEMETRY_COLUMNS.findIndex(([n]) => n === 'labels')]).toBe('{"{\\"a\\":\\"b\\"}",NULL}')
  })

  it('a row with one bad value adds nothing (the other columns stay aligned)', () => {
    const c = new TelemetryColumns()
    c.add(row)
    expect(() => c.add({ ...row, pod: 'x\0' })).toThrow(/pod holds NUL/)
    expect(() => c.add({ ...row, labels: { k: 'v\uDC00' } })).toThrow(/labels hold NUL or a lone UTF-16 surrogate/)
    c.add({ ...row, gpu_id: 5 })
    expect(c.length).toBe(2)
    expect(c.literals().every((l) => l.split(',').length >= 2)).toBe(true)
    expect(c.literals()[TELEMETRY_COLUMNS.findIndex(([n]) => n === 'pod')]).toBe('{NULL,NULL}')
  })
})
