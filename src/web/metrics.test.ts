import { describe, expect, it } from 'vitest'
import { chooseStep, durationText, fleetCounts, formatValue, metricInfo, resample } from './metrics.js'

describe('metric units and formatting', () => {
  it('shows each key metric with its unit', () => {
    expect(formatValue('DCGM_FI_DEV_GPU_UTIL', 87)).toBe('87 %')
    expect(formatValue('DCGM_FI_DEV_FB_USED', 40960)).toBe('40,960 MiB')
    expect(formatValue('DCGM_FI_DEV_GPU_TEMP', 71)).toBe('71 °C')
    expect(formatValue('DCGM_FI_DEV_POWER_USAGE', 312.54)).toBe('312.5 W')
    expect(formatValue('DCGM_FI_DEV_SM_CLOCK', 1980)).toBe('1,980 MHz')
    expect(formatValue('DCGM_FI_DEV_GPU_UTIL', undefined)).toBe('–')
    expect(metricInfo('DCGM_FI_PROF_PIPE_TENSOR_ACTIVE')).toMatchObject({ label: 'PROF_PIPE_TENSOR_ACTIVE', unit: '' })
  })
})

describe('steps', () => {
  it('picks the smallest listed step that keeps a range under the point budget', () => {
    expect(chooseStep(3600, 720)).toBe(10)
    expect(chooseStep(24 * 3600, 720)).toBe(120)
    expect(chooseStep(7 * 86400, 720)).toBe(900)
    expect(chooseStep(3600, 40, 60)).toBe(120)
    for (const [range, max] of [[900, 720], [86400, 720], [604800, 720], [3600, 40], [30 * 86400, 500]] as const) {
      expect(range / chooseStep(range, max)).toBeLessThanOrEqual(max)
    }
  })
  it('writes steps in the API duration syntax', () => {
    expect([10, 60, 120, 3600, 86400].map(durationText)).toEqual(['10s', '1m', '2m', '1h', '1d'])
  })
})

describe('fleet counts', () => {
  it('counts idle, busy and hot GPUs and distinct hosts', () => {
    const c = fleetCounts([
      { id: 'a', hostname: 'h1', latest: { DCGM_FI_DEV_GPU_UTIL: 0, DCGM_FI_DEV_GPU_TEMP: 40 } },
      { id: 'b', hostname: 'h1', latest: { DCGM_FI_DEV_GPU_UTIL: 100, DCGM_FI_DEV_GPU_TEMP: 85 } },
      { id: 'c', hostname: 'h2', latest: { DCGM_FI_DEV_GPU_UTIL: 50 } },
      { id: 'd', hostname: 'h3', latest: {} },
    ])
    expect(c).toEqual({ gpus: 4, hosts: 3, idle: 1, busy: 1, hot: 1, unknown: 1 })
  })
})

describe('resample', () => {
  it('averages buckets down to the width and keeps short series as they are', () => {
    expect(resample([[0, 1], [1, 3], [2, 5], [3, 7]], 2)).toEqual([2, 6])
    expect(resample([[0, 1]], 5)).toEqual([1])
  })
})
