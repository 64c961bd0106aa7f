// Line charts in the terminal for `tpipe gpus telemetry --plot`: one chart per metric, as wide as the
// terminal, y labels with the metric's unit, a time axis under it. Drawing is asciichart's; this file
// maps bucketed points onto terminal columns by time (not by index, so missing buckets keep their place).
import * as asciichart from 'asciichart'
import { chooseStep, durationText, formatValue, metricInfo } from '../web/metrics.js'

export type Point = readonly [number, number]

export interface PlotOptions {
  /** Terminal columns for the whole chart, labels included. */
  width: number
  /** Rows of the plot area. */
  height?: number
  /** Range of the time axis (unix seconds); defaults to the points' own. */
  start?: number
  end?: number
  /** Subtitle after the metric's label ("avg per 60 s"). */
  note?: string
  color?: boolean
}

const LABEL_WIDTH = 12

/** Columns over [start, end]: the mean of the points falling into each; empty columns carry the last value. */
export function toColumns(points: readonly Point[], start: number, end: number, columns: number): number[] {
  const sums = new Array<number>(columns).fill(0)
  const counts = new Array<number>(columns).fill(0)
  const span = Math.max(1e-9, end - start)
  for (const [t, v] of points) {
    const c = Math.min(columns - 1, Math.max(0, Math.floor(((t - start) / span) * columns)))
    sums[c]! += v
    counts[c]!++
  }
  const out: number[] = []
  let last = points[0]?.[1] ?? 0
  for (let c = 0; c < columns; c++) {
    if (counts[c]) last = sums[c]! / counts[c]!
    out.push(last)
  }
  return out
}

function timeLabel(t: number, spanSeconds: number): string {
  const iso = new Date(t * 1000).toISOString()
  return spanSeconds > 86400 ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}Z` : `${iso.slice(11, spanSeconds < 600 ? 19 : 16)}Z`
}

/** One metric's chart as text lines (title, plot, time axis). */
export function plotMetric(metric: string, points: readonly Point[], opts: PlotOptions): string {
  const info = metricInfo(metric)
  const title = `${info.label}${info.unit ? ` (${info.unit})` : ''} — ${metric}${opts.note ? `, ${opts.note}` : ''}`
  if (!points.length) return `${title}\n  no data in this range`
  const start = opts.start ?? points[0]![0]
  const end = opts.end ?? points[points.length - 1]![0]
  const columns = Math.max(10, opts.width - LABEL_WIDTH - 2)
  const values = toColumns(points, start, end, columns)
  const all = points.map((p) => p[1])
  let min = Math.min(...all)
  let max = Math.max(...all)
  if (info.unit === '%') {
    min = Math.min(0, min)
    max = Math.max(100, max)
  }
  if (min === max) max = min + 1
  const chart = asciichart.plot(values, {
    height: opts.height ?? 8,
    min,
    max,
    offset: 2,
    format: (x: number) => formatValue(metric, x).padStart(LABEL_WIDTH - 1).slice(-(LABEL_WIDTH - 1)),
    ...(opts.color ? { colors: [asciichart.cyan] } : {}),
  })
  const span = end - start
  const left = timeLabel(start, span)
  const mid = timeLabel(start + span / 2, span)
  const right = timeLabel(end, span)
  const axisWidth = columns + 1
  const midAt = Math.max(left.length + 1, Math.floor(axisWidth / 2 - mid.length / 2))
  let axis = left.padEnd(midAt) + mid
  axis = axis.padEnd(Math.max(axis.length + 1, axisWidth - right.length)) + right
  const last = points[points.length - 1]![1]
  const stats = `min ${formatValue(metric, Math.min(...all))} · max ${formatValue(metric, Math.max(...all))} · last ${formatValue(metric, last)} · ${points.length} points`
  return [title, stats, chart, ' '.repeat(LABEL_WIDTH + 1) + axis].join('\n')
}

/** The bucketed answer of GET /api/v1/gpus/{id}/telemetry?step=… (the Query API contract). */
export interface GpuSeriesAnswer {
  gpu: string
  step_seconds: number
  agg: string
  start: string
  end: string
  series: { metric: string; points: [number, number][] }[]
}

export interface PlotRequest {
  /** The window as API parameters (start/end/window), already checked; empty: the last hour. */
  window: [string, string][]
  /** Length of that window in seconds (to pick a step when none is given). */
  spanSeconds?: number | undefined
  step?: string | undefined
  agg?: string | undefined
  metrics: readonly string[]
}

/** Query parameters of a plot: a step that gives about one bucket per terminal column unless one is given. */
export function plotQuery(req: PlotRequest, columns: number): [string, string][] {
  const q: [string, string][] = req.metrics.map((m) => ['metric', m])
  q.push(...(req.window.length ? req.window : ([['window', '1h']] as [string, string][])))
  if (req.step) q.push(['step', req.step])
  else q.push(['step', durationText(chooseStep(req.spanSeconds ?? 3600, Math.max(10, columns - LABEL_WIDTH - 2)))])
  q.push(['agg', req.agg ?? 'avg'])
  return q
}

/** Every series of an answer as one chart each, metrics without points included (said so). */
export function plotAnswer(a: GpuSeriesAnswer, metrics: readonly string[], opts: Omit<PlotOptions, 'start' | 'end' | 'note'>): string {
  const start = Date.parse(a.start) / 1000
  const end = Date.parse(a.end) / 1000
  const byMetric = new Map(a.series.map((s) => [s.metric, s.points]))
  const names = metrics.length ? metrics : a.series.map((s) => s.metric)
  return names
    .map((m) => plotMetric(m, byMetric.get(m) ?? [], { ...opts, start, end, note: `${a.agg} per ${durationText(a.step_seconds)}` }))
    .join('\n\n')
}
