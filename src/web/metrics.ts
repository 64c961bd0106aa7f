// What the views know about DCGM metrics and time ranges: labels, units, value formatting, the step a
// range is drawn at, and the fleet counts. Pure (no DOM, no Node API): the browser bundle, the terminal
// plots and the tests import the same functions, so every view shows the same numbers the same way.

export interface MetricInfo {
  name: string
  label: string
  unit: string
  /** Digits after the point when shown. */
  digits: number
}

/** The DCGM exporter fields the pipeline carries, in the order the views show them. */
export const METRICS: readonly MetricInfo[] = [
  { name: 'DCGM_FI_DEV_GPU_UTIL', label: 'GPU utilisation', unit: '%', digits: 0 },
  { name: 'DCGM_FI_DEV_FB_USED', label: 'Memory used', unit: 'MiB', digits: 0 },
  { name: 'DCGM_FI_DEV_GPU_TEMP', label: 'Temperature', unit: '°C', digits: 0 },
  { name: 'DCGM_FI_DEV_POWER_USAGE', label: 'Power', unit: 'W', digits: 1 },
  { name: 'DCGM_FI_DEV_MEM_COPY_UTIL', label: 'Memory copy utilisation', unit: '%', digits: 0 },
  { name: 'DCGM_FI_DEV_SM_CLOCK', label: 'SM clock', unit: 'MHz', digits: 0 },
  { name: 'DCGM_FI_DEV_MEM_CLOCK', label: 'Memory clock', unit: 'MHz', digits: 0 },
  { name: 'DCGM_FI_DEV_FB_FREE', label: 'Memory free', unit: 'MiB', digits: 0 },
  { name: 'DCGM_FI_DEV_ENC_UTIL', label: 'Encoder utilisation', unit: '%', digits: 0 },
  { name: 'DCGM_FI_DEV_DEC_UTIL', label: 'Decoder utilisation', unit: '%', digits: 0 },
]

/** The four the fleet page shows per GPU (latest value and last-hour trend). */
export const KEY_METRICS = ['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_FB_USED', 'DCGM_FI_DEV_GPU_TEMP', 'DCGM_FI_DEV_POWER_USAGE'] as const
export type KeyMetric = (typeof KEY_METRICS)[number]

const BY_NAME = new Map(METRICS.map((m) => [m.name, m]))

/** Known metrics by name; an unknown one gets its own name as label and no unit. */
export function metricInfo(name: string): MetricInfo {
  return BY_NAME.get(name) ?? { name, label: name.replace(/^DCGM_FI_(DEV_)?/, ''), unit: '', digits: 2 }
}

/** "87 %", "40,960 MiB", "71 °C", "312.5 W"; "–" for a missing value. */
export function formatValue(name: string, value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–'
  const m = metricInfo(name)
  const text = value.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: m.digits })
  return m.unit ? `${text} ${m.unit}` : text
}

/** Thresholds of the fleet counts (shown next to the counts, so nobody has to guess). */
export const IDLE_BELOW_PERCENT = 5
export const BUSY_FROM_PERCENT = 80
export const HOT_FROM_CELSIUS = 80

export type GpuState = 'idle' | 'busy' | 'hot'

/** Latest values of one GPU as the fleet page holds them. */
export interface GpuLatest {
  id: string
  hostname: string
  latest: Partial<Record<string, number>>
}

export interface FleetCounts {
  gpus: number
  hosts: number
  idle: number
  busy: number
  hot: number
  /** GPUs without a utilisation value (neither idle nor busy is known). */
  unknown: number
}

export function gpuStates(latest: Partial<Record<string, number>>): Set<GpuState> {
  const s = new Set<GpuState>()
  const util = latest.DCGM_FI_DEV_GPU_UTIL
  const temp = latest.DCGM_FI_DEV_GPU_TEMP
  if (util !== undefined) {
    if (util < IDLE_BELOW_PERCENT) s.add('idle')
    if (util >= BUSY_FROM_PERCENT) s.add('busy')
  }
  if (temp !== undefined && temp >= HOT_FROM_CELSIUS) s.add('hot')
  return s
}

export function fleetCounts(gpus: readonly GpuLatest[]): FleetCounts {
  const c: FleetCounts = { gpus: gpus.length, hosts: new Set(gpus.map((g) => g.hostname)).size, idle: 0, busy: 0, hot: 0, unknown: 0 }
  for (const g of gpus) {
    const s = gpuStates(g.latest)
    if (s.has('idle')) c.idle++
    if (s.has('busy')) c.busy++
    if (s.has('hot')) c.hot++
    if (g.latest.DCGM_FI_DEV_GPU_UTIL === undefined) c.unknown++
  }
  return c
}

/** Steps the views ask for: Prometheus-style durations, each a divisor-friendly multiple of the last. */
export const STEPS_SECONDS = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400] as const

/** The smallest step that keeps a range under `maxPoints` buckets per series (never below `minSeconds`). */
export function chooseStep(rangeSeconds: number, maxPoints: number, minSeconds = 10): number {
  const wanted = Math.max(minSeconds, rangeSeconds / Math.max(1, maxPoints))
  for (const s of STEPS_SECONDS) if (s >= wanted) return s
  return Math.ceil(wanted / 86400) * 86400
}

/** 60 → "60s", 300 → "5m", 3600 → "1h", 86400 → "1d": the API's duration syntax. */
export function durationText(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`
  if (seconds % 3600 === 0) return `${seconds / 3600}h`
  if (seconds % 60 === 0) return `${seconds / 60}m`
  return `${seconds}s`
}

/** The ranges the GPU page offers, as the API's relative windows. */
export const RANGES = [
  { key: '15m', seconds: 15 * 60, label: '15 minutes' },
  { key: '1h', seconds: 3600, label: '1 hour' },
  { key: '6h', seconds: 6 * 3600, label: '6 hours' },
  { key: '24h', seconds: 24 * 3600, label: '24 hours' },
  { key: '7d', seconds: 7 * 86400, label: '7 days' },
] as const
export type RangeKey = (typeof RANGES)[number]['key']

/** Downsamples points to at most `width` values by bucket averaging (terminal plots, sparklines). */
export function resample(points: readonly (readonly [number, number])[], width: number): number[] {
  if (points.length <= width) return points.map((p) => p[1])
  const out: number[] = []
  for (let i = 0; i < width; i++) {
    const from = Math.floor((i * points.length) / width)
    const to = Math.max(from + 1, Math.floor(((i + 1) * points.length) / width))
    let sum = 0
    for (let j = from; j < to; j++) sum += points[j]![1]
    out.push(sum / (to - from))
  }
  return out
}
