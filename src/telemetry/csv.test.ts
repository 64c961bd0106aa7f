import { describe, expect, it } from 'vitest'
import { MissingColumnError, csvLine, mapColumns, normalise, toPayload } from './csv.js'

const HEADER = ['timestamp', 'metric_name', 'gpu_id', 'device', 'uuid', 'modelName', 'Hostname', 'container', 'pod', 'namespace', 'value', 'labels_raw']
const ROW = ['2025-07-18T20:42:34Z', 'DCGM_FI_DEV_GPU_TEMP', '3', 'nvidia3', 'GPU-abc', 'NVIDIA H100 80GB HBM3', 'host-1', '', 'pod-a', '', '41', 'gpu="3",job="x"']
const TS = '2026-11-27T12:00:00.000Z'

describe('column mapping', () => {
  it('ignores case, underscores, spaces and a BOM, and accepts aliases', () => {
    expect(normalise('\uFEFFModel_Name')).toBe('modelname')
    expect(normalise(' Metric Name ')).toBe('metricname')
    const m = mapColumns(['VALUE', 'gpu_uuid', 'host', 'model name', 'GPU_ID', 'Metric-Name', 'extra'])
    expect(m).toMatchObject({ value: 0, gpu_uuid: 1, hostname: 2, model_name: 3, gpu_id: 4, metric_name: 5, width: 7 })
    expect(m.timestamp).toBeUndefined()
  })

  it('names every missing required column and the headers found', () => {
    try {
      mapColumns(['timestamp', 'metric_name', 'Hostname'])
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(MissingColumnError)
      expect((err as MissingColumnError).missing).toEqual(['gpu_id', 'gpu_uuid', 'value'])
      expect((err as Error).message).toContain('headers found: timestamp, metric_name, Hostname')
    }
  })
})

describe('row → payload', () => {
  const map = mapColumns(HEADER)
  it('builds the shared payload, stamped with the given time', () => {
    const r = toPayload(ROW, map, TS)
    expect(r).toEqual({
      payload: {
        ts: TS,
        metric_name: 'DCGM_FI_DEV_GPU_TEMP',
        gpu_id: 3,
        device: 'nvidia3',
        gpu_uuid: 'GPU-abc',
        model_name: 'NVIDIA H100 80GB HBM3',
        hostname: 'host-1',
        container: null,
        pod: 'pod-a',
        namespace: null,
        value: 41,
        labels: { gpu: '3', job: 'x' },
      },
    })
  })

  it.each([
    ['non-numeric value', 10, 'n/a', /value "n\/a" is not a number/],
    ['empty value', 10, '', /not a number/],
    ['empty uuid', 4, ' ', /empty uuid/],
    ['bad gpu_id', 2, '-1', /gpu_id/],
    ['malformed labels', 11, 'gpu=3', /labels/],
  ])('rejects a %s', (_name, col, val, re) => {
    const row = ROW.slice()
    row[col] = val
    const r = toPayload(row, map, TS)
    expect('error' in r && r.error).toMatch(re)
  })

  it('rejects a row with the wrong number of fields', () => {
    expect(toPayload(ROW.slice(0, 5), map, TS)).toEqual({ error: 'expected 12 fields, got 5' })
  })

  it('quotes every field on write-back', () => {
    expect(csvLine(['a', 'b"c', ''])).toBe('"a","b""c",""')
  })
})
