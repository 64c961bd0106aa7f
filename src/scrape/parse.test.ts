import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { isOpenMetricsContentType, parseExposition, parseValue } from './parse.js'

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')

describe('parseExposition on dcgm-exporter text', () => {
  const r = parseExposition(fixture('dcgm-exporter.txt'))

  it('reads every finite sample with its labels, HELP and TYPE', () => {
    expect(r.errors).toEqual([])
    expect(r.samples).toHaveLength(8)
    expect(r.types).toMatchObject({ DCGM_FI_DEV_SM_CLOCK: 'gauge', DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION: 'counter' })
    expect(r.help.DCGM_FI_DEV_GPU_TEMP).toBe('GPU temperature (in C).')
    expect(r.samples[0]).toEqual({
      name: 'DCGM_FI_DEV_SM_CLOCK',
      labels: {
        gpu: '0',
        UUID: 'GPU-5fd4f087-86f3-7a43-b711-4771313afc50',
        pci_bus_id: '00000000:18:00.0',
        device: 'nvidia0',
        modelName: 'NVIDIA H100 80GB HBM3',
        Hostname: 'mtv5-dgx1-hgpu-031',
        DCGM_FI_DRIVER_VERSION: '535.129.03',
      },
      value: 1980,
    })
    expect(r.samples.find((s) => s.name === 'DCGM_FI_DEV_POWER_USAGE')?.value).toBe(71.247)
    expect(r.samples.find((s) => s.name === 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION')?.value).toBe(41925519357)
  })

  it('counts NaN and +Inf and does not return them', () => {
    expect(r.nonFinite).toBe(2)
    expect(r.samples.every((s) => Number.isFinite(s.value))).toBe(true)
  })

  it('unescapes \\" \\\\ and \\n in label values', () => {
    const util = r.samples.find((s) => s.name === 'DCGM_FI_DEV_GPU_UTIL' && s.labels.gpu === '0')
    expect(util?.labels.pod).toBe('llm-finetune-7c9d"quoted" \\ back\nline')
    expect(util?.labels.namespace).toBe('ml-team')
  })

  it('has no timestamps (dcgm-exporter sends none) and is not OpenMetrics', () => {
    expect(r.samples.every((s) => s.timestampMs === undefined)).toBe(true)
    expect(r.eof).toBe(false)
  })
})

describe('parseExposition on OpenMetrics', () => {
  const r = parseExposition(fixture('dcgm-exporter.openmetrics.txt'))

  it('takes timestamps in seconds, ignores exemplars and _created, sees # EOF', () => {
    expect(r.errors).toEqual([])
    expect(r.eof).toBe(true)
    expect(r.nonFinite).toBe(1)
    expect(r.created).toBe(1)
    expect(r.samples.map((s) => [s.name, s.value, s.timestampMs])).toEqual([
      ['DCGM_FI_DEV_GPU_UTIL', 87, 1752871354250],
      ['DCGM_FI_DEV_PCIE_REPLAY_COUNTER_total', 3, 1752871354250],
    ])
  })

  it('flags content after # EOF', () => {
    const t = parseExposition('a 1\n# EOF\nb 2\n')
    expect(t.samples).toHaveLength(1)
    expect(t.errors).toEqual([{ line: 3, message: 'content after # EOF' }])
  })

  it('knows the content type', () => {
    expect(isOpenMetricsContentType('application/openmetrics-text; version=1.0.0; charset=utf-8')).toBe(true)
    expect(isOpenMetricsContentType('text/plain; version=0.0.4')).toBe(false)
  })
})

describe('parseExposition, text format details', () => {
  it('takes millisecond timestamps, spaces, trailing commas, CRLF and empty label sets', () => {
    const r = parseExposition('m{a="1",} 2 1700000000123\r\nm2  { b = "x" }   3\r\nm3{} -4.5e1\nm4 7\n')
    expect(r.errors).toEqual([])
    expect(r.samples).toEqual([
      { name: 'm', labels: { a: '1' }, value: 2, timestampMs: 1700000000123 },
      { name: 'm2', labels: { b: 'x' }, value: 3 },
      { name: 'm3', labels: {}, value: -45 },
      { name: 'm4', labels: {}, value: 7 },
    ])
  })

  it('counts each bad line with its number and keeps the good ones', () => {
    const r = parseExposition(
      ['ok 1', 'bad{a="1"', 'bad2{a=1} 1', 'bad3 one', 'bad4{a="\\x"} 1', 'bad5 1 12.5', 'bad6{a="1",a="2"} 1', '# TYPE x sometype', 'ok2 2', '9bad 1', 'ok3{a="}"} 3 trailing'].join('\n'),
    )
    expect(r.samples.map((s) => s.name)).toEqual(['ok', 'ok2'])
    expect(r.errorCount).toBe(9)
    expect(r.errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 10, 11])
    expect(r.errors[0]!.message).toMatch(/label|unterminated|expected/)
  })

  it('keeps at most 20 errors but counts them all', () => {
    const r = parseExposition(Array.from({ length: 50 }, () => 'x{').join('\n'))
    expect(r.errorCount).toBe(50)
    expect(r.errors).toHaveLength(20)
  })

  it('parses values like Go does', () => {
    expect(parseValue('NaN')).toBeNaN()
    expect(parseValue('+Inf')).toBe(Infinity)
    expect(parseValue('-Inf')).toBe(-Infinity)
    expect(parseValue('1e3')).toBe(1000)
    expect(parseValue('.5')).toBe(0.5)
    expect(parseValue('0x10')).toBeUndefined()
    expect(parseValue('')).toBeUndefined()
  })
})
