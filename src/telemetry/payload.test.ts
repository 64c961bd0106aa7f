import { describe, expect, it } from 'vitest'
import { checkTelemetryPayload, parseLabels } from './payload.js'

const good = {
  ts: '2025-07-18T20:42:34Z',
  metric_name: 'DCGM_FI_DEV_GPU_UTIL',
  gpu_id: 0,
  device: 'nvidia0',
  gpu_uuid: 'GPU-5fd4f087-86f3-7a43-b711-4771313afc50',
  model_name: 'NVIDIA H100 80GB HBM3',
  hostname: 'mtv5-dgx1-hgpu-031',
  container: null,
  pod: null,
  namespace: null,
  value: 0,
  labels: { device: 'nvidia0' },
}

describe('telemetry payload', () => {
  it('accepts a good payload', () => {
    expect(checkTelemetryPayload(good)).toBeUndefined()
  })
  it.each([
    [{ ...good, value: 'x' }, /\/value/],
    [{ ...good, gpu_uuid: '' }, /\/gpu_uuid/],
    [{ ...good, ts: 'yesterday' }, /\/ts/],
    [{ ...good, gpu_id: 1.5 }, /\/gpu_id/],
    [{ ...good, labels: 'a=b' }, /\/labels/],
  ])('names the bad field %#', (p, re) => {
    expect(checkTelemetryPayload(p)).toMatch(re)
  })
})

describe('parseLabels', () => {
  it('parses the exporter form, with commas and escaped quotes in values', () => {
    expect(parseLabels('DCGM_FI_DRIVER_VERSION="535.129.03",Hostname="h1",note="a, \\"b\\""')).toEqual({
      DCGM_FI_DRIVER_VERSION: '535.129.03',
      Hostname: 'h1',
      note: 'a, "b"',
    })
    expect(parseLabels('')).toBeNull()
  })
  it.each(['a=b', 'a="b', '="x"', 'a="b" c="d"'])('rejects %j', (raw) => {
    expect(() => parseLabels(raw)).toThrow(/labels/)
  })
})
