import { describe, expect, it } from 'vitest'
import { insertBatch, sizeClass, STATEMENT_ROWS, type QueueRow } from './sql.js'

const row = (i: number, series?: string[]): QueueRow => ({ msg_uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, partition: i % 256, key: `k${i}`, payloadJson: `{"i":${i}}`, ...(series ? { series } : {}) })

describe('insertBatch', () => {
  it('size classes are powers of two', () => {
    expect([1, 2, 3, 5, 64, 65, 4096].map(sizeClass)).toEqual([1, 2, 4, 8, 64, 128, 4096])
  })

  it('pads a batch to its size class with NULL rows and prepares one statement per class', () => {
    const [a, ...rest] = insertBatch([row(1), row(2), row(3)])
    expect(rest).toEqual([])
    expect(a!.name).toBe('mqwriter_insert_4')
    expect(a!.values).toEqual([row(1).msg_uuid, 1, 'k1', '{"i":1}', row(2).msg_uuid, 2, 'k2', '{"i":2}', row(3).msg_uuid, 3, 'k3', '{"i":3}', null, null, null, null])
    expect(a!.text).toContain('$16::json')
    expect(a!.text).not.toContain('$17')
    expect(a!.text).not.toContain('telemetry_series')
    expect(insertBatch([row(1), row(2), row(3), row(4)])[0]!.text).toBe(a!.text)
  })

  it('splits a batch over STATEMENT_ROWS into statements; the series (each once) go with the first', () => {
    const s1 = '{"series_id":"a","labels":{}}'
    const s2 = '{"series_id":"b","labels":{}}'
    const rows = Array.from({ length: STATEMENT_ROWS + 3 }, (_, i) => row(i, i === 0 ? [s1] : i === STATEMENT_ROWS + 1 ? [s1, s2] : undefined))
    const statements = insertBatch(rows)
    expect(statements.map((s) => s.name)).toEqual([`mqwriter_insert_series_${STATEMENT_ROWS}`, 'mqwriter_insert_4'])
    expect(statements[0]!.values).toHaveLength(STATEMENT_ROWS * 4 + 1)
    expect(statements[0]!.values.at(-1)).toBe(`[${s1},${s2}]`)
    expect(statements[0]!.text).toContain(`$${STATEMENT_ROWS * 4 + 1}::json`)
    expect(statements[1]!.values.slice(0, 4)).toEqual([row(STATEMENT_ROWS).msg_uuid, STATEMENT_ROWS % 256, `k${STATEMENT_ROWS}`, `{"i":${STATEMENT_ROWS}}`])
    expect(statements[1]!.values.slice(12)).toEqual([null, null, null, null])
  })
})
