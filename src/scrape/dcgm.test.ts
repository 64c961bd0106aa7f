import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { checkTelemetryPayload } from '../telemetry/payload.js'
import { UUID_RE } from '../mqwriter/uuidv7.js'
import { sampleId, toTelemetry } from './dcgm.js'
import { parseExposition } from './parse.js'

const text = readFileSync(new URL('./fixtures/dcgm-exporter.txt', import.meta.url), 'utf8')

describe('toTelemetry', () => {
  const samples = parseExposition(text).samples
  const t = Date.parse('2026-11-30T07:00:15Z')

  it('maps dcgm-exporter labels to the CSV row fields, keeping every label', () => {
    const m = toTelemetry(samples[0]!.name, samples[0]!.labels, samples[0]!.value, t, 'node-a')
    if (typeof m === 'string') throw new Error(m)
    expect(m.key).toBe('GPU-5fd4f087-86f3-7a43-b711-4771313afc50')
    expect(m.payload).toEqual({
      ts: '2026-11-30T07:00:15.000Z',
      metric_name: 'DCGM_FI_DEV_SM_CLOCK',
      gpu_id: 0,
      device: 'nvidia0',
      gpu_uuid: 'GPU-5fd4f087-86f3-7a43-b711-4771313afc50',
      model_name: 'NVIDIA H100 80GB HBM3',
      hostname: 'mtv5-dgx1-hgpu-031',
      container: null,
      pod: null,
      namespace: null,
      value: 1980,
      labels: { __name__: 'DCGM_FI_DEV_SM_CLOCK', ...samples[0]!.labels },
    })
    expect(UUID_RE.test(m.id)).toBe(true)
    for (const s of samples) {
      const x = toTelemetry(s.name, s.labels, s.value, t, 'node-a')
      if (typeof x === 'string') throw new Error(x)
      expect(checkTelemetryPayload(x.payload)).toBeUndefined()
    }
    const util = samples.find((s) => s.labels.pod?.startsWith('llm'))!
    const u = toTelemetry(util.name, util.labels, util.value, t, 'node-a')
    expect(typeof u !== 'string' && [u.payload.container, u.payload.namespace]).toEqual(['trainer', 'ml-team'])
  })

  it('uses the target host without a Hostname label, and refuses samples without a GPU', () => {
    const m = toTelemetry('DCGM_FI_DEV_GPU_UTIL', { gpu: '3', UUID: 'GPU-x' }, 1, t, '10.0.0.7')
    expect(typeof m !== 'string' && m.payload.hostname).toBe('10.0.0.7')
    expect(toTelemetry('DCGM_FI_DEV_GPU_UTIL', { gpu: '3' }, 1, t, 'h')).toBe('no_uuid')
    expect(toTelemetry('DCGM_FI_DEV_GPU_UTIL', { UUID: 'GPU-x', gpu: 'x' }, 1, t, 'h')).toBe('no_gpu_index')
  })
})

describe('sampleId', () => {
  const labels = { gpu: '0', UUID: 'GPU-a', Hostname: 'h' }
  it('is the same for the same series and time, whatever the label order', () => {
    expect(sampleId('M', labels, 1000)).toBe(sampleId('M', { Hostname: 'h', UUID: 'GPU-a', gpu: '0' }, 1000))
    expect(sampleId('M', labels, 1000)).toBe(sampleId('M', { ...labels, __name__: 'M' }, 1000))
  })
  it('differs when the time, the name or any label differs', () => {
    const ids = new Set([
      sampleId('M', labels, 1000),
      sampleId('M', labels, 1001),
      sampleId('N', labels, 1000),
      sampleId('M', { ...labels, gpu: '1' }, 1000),
      sampleId('M', { ...labels, extra: '' }, 1000),
      // the label boundary cannot be moved into a value
      sampleId('M', { a: 'b\0c', d: '' }, 1000),
      sampleId('M', { a: 'b', c: '' }, 1000),
    ])
    expect(ids.size).toBe(7)
  })
  it('is a version-8 RFC 9562 UUID', () => {
    expect(sampleId('M', labels, 0)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })
})
