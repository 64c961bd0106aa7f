import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { checkTelemetryPayload } from '../telemetry/payload.js'
import { UUID_RE } from '../util/ids.js'
import { SeriesTemplate, sampleId, toTelemetry, type TelemetryMessage } from './dcgm.js'
import { SERIES_FIELD } from '../protocol/bundle.js'
import { seriesId } from '../telemetry/series.js'
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

  it('strips NUL from label names as from values (jsonb, hence telemetry and dead letters, cannot hold \\u0000)', () => {
    const m = toTelemetry('DCGM_FI_DEV_GPU_UTIL', { gpu: '3', UUID: 'GPU-x', 'na\0me': 'va\0lue' }, 1, t, 'h')
    if (typeof m === 'string') throw new Error(m)
    expect(m.payload.labels).toEqual({ __name__: 'DCGM_FI_DEV_GPU_UTIL', gpu: '3', UUID: 'GPU-x', name: 'value' })
    expect(JSON.stringify(m.payload)).not.toContain('\\u0000')
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
  it('keeps the ids stored before (known answers; one-shot crypto.hash and createHash agree)', () => {
    // Computed with the createHash implementation of 2026-11-30 (5bdc2b1): ids of stored samples must not change.
    expect(sampleId('DCGM_FI_DEV_GPU_UTIL', { gpu: '0', UUID: 'GPU-a', Hostname: 'h✓' }, 1764500000123)).toBe('bcaa4980-1376-8523-927f-05e912c2ca22')
    expect(sampleId('M', {}, -5)).toBe('94d9e77a-bbe0-8b7a-bc3f-43455f7966aa')
    for (let i = 0; i < 300; i++) {
      const l = { gpu: String(i % 8), UUID: `GPU-${i}`, v: 'x'.repeat(i % 17) + '✓\0' }
      let text = 'DCGM_X'
      for (const k of Object.keys(l).sort()) text += `\0${k}\xff${l[k as keyof typeof l].length}:${l[k as keyof typeof l]}`
      const b = createHash('sha256').update(`${text}\0@${i * 7919}`).digest()
      b[6] = (b[6]! & 0x0f) | 0x80
      b[8] = (b[8]! & 0x3f) | 0x80
      const x = b.toString('hex', 0, 16)
      expect(sampleId('DCGM_X', l, i * 7919)).toBe(`${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`)
    }
  })
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

describe('SeriesTemplate', () => {
  const labels = { UUID: 'GPU-t', gpu: '0', Hostname: 'h', modelName: 'NVIDIA H100' }
  it('a sample with its series id in place of labels is the toTelemetry payload with labels null and the series id of its labels', () => {
    const t = SeriesTemplate.of('DCGM_FI_DEV_GPU_UTIL', labels, 'x') as SeriesTemplate
    const m = toTelemetry('DCGM_FI_DEV_GPU_UTIL', labels, 42.5, 1_764_500_000_123, 'x') as TelemetryMessage
    const id = seriesId(JSON.stringify(m.payload.labels))
    expect(JSON.parse(t.payloadJsonRef(42.5, 1_764_500_000_123))).toEqual({ ...m.payload, labels: null, [SERIES_FIELD]: id })
    expect(t.payloadJson(42.5, 1_764_500_000_123)).toBe(JSON.stringify(m.payload))
    expect(JSON.parse(t.seriesJson!)).toEqual({ series_id: id, labels: m.payload.labels })
    expect(checkTelemetryPayload(JSON.parse(t.payloadJsonRef(1, 0)))).toBeUndefined()
  })

  it('labels PostgreSQL cannot store (a lone surrogate) stay inline and are never registered', () => {
    const t = SeriesTemplate.of('DCGM_FI_DEV_GPU_UTIL', { ...labels, pod: 'bad\uD800' }, 'x') as SeriesTemplate
    expect(t.seriesJson).toBeUndefined()
    expect(t.payloadJsonRef(1, 0)).toBe(t.payloadJson(1, 0))
    expect(JSON.parse(t.payloadJsonRef(1, 0))[SERIES_FIELD]).toBeUndefined()
  })
})
