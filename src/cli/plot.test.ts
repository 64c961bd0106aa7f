import { describe, expect, it } from 'vitest'
import { plotMetric, toColumns } from './plot.js'

describe('terminal plot', () => {
  it('places points by time, so a missing stretch keeps its width', () => {
    // Points at t=0..4 and t=15..19 over [0, 20): columns 0-4 and 15-19 hold them, 5-14 carry the last value.
    const pts = [...[0, 1, 2, 3, 4].map((t) => [t, 1] as const), ...[15, 16, 17, 18, 19].map((t) => [t, 9] as const)]
    const cols = toColumns(pts, 0, 20, 20)
    expect(cols.slice(0, 15)).toEqual(new Array(15).fill(1))
    expect(cols.slice(15)).toEqual(new Array(5).fill(9))
  })

  it('draws a chart as wide as asked, with unit labels and a time axis', () => {
    const t0 = Date.parse('2026-11-30T08:00:00Z') / 1000
    const pts = Array.from({ length: 60 }, (_, i) => [t0 + i * 60, i % 2 ? 90 : 10] as const)
    const text = plotMetric('DCGM_FI_DEV_GPU_UTIL', pts, { width: 80, height: 6 })
    const lines = text.split('\n')
    expect(lines[0]).toMatch(/^GPU utilisation \(%\) — DCGM_FI_DEV_GPU_UTIL/)
    expect(lines[1]).toBe('min 10 % · max 90 % · last 90 % · 60 points')
    expect(text).toMatch(/100 %┼|100 %┤/)
    expect(text).toMatch(/ 0 %┤| 0 %┼/)
    const axis = lines[lines.length - 1]!
    expect(axis).toMatch(/08:00Z .* 08:29Z .* 08:59Z$/)
    for (const l of lines.slice(2)) expect(l.length).toBeLessThanOrEqual(80)
  })

  it('says so when a metric has no points', () => {
    expect(plotMetric('DCGM_FI_DEV_GPU_TEMP', [], { width: 80 })).toBe('Temperature (°C) — DCGM_FI_DEV_GPU_TEMP\n  no data in this range')
  })
})
