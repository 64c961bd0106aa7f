// One time-series chart (uPlot): its own y unit, hover legend with time and formatted value, drag to
// select a time range (the page then asks the API for that range at a finer step), sized to its box.
import uPlot from 'uplot'
import { formatValue, metricInfo } from '../metrics.js'
import { dateTimeText } from './dom.js'
import type { Point } from './api.js'

export interface ChartSeries {
  label: string
  points: Point[]
}

export interface ChartOptions {
  metric: string
  title: string
  height?: number
  onZoom?: (fromSeconds: number, toSeconds: number) => void
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888'
}

const PALETTE = ['--c1', '--c2', '--c3', '--c4', '--c5', '--c6', '--c7', '--c8']

/** Aligns several [t, v] series on one time axis (null where a series has no bucket). */
export function align(series: readonly ChartSeries[]): uPlot.AlignedData {
  const times = new Set<number>()
  for (const s of series) for (const p of s.points) times.add(p[0])
  const xs = [...times].sort((a, b) => a - b)
  const index = new Map(xs.map((t, i) => [t, i]))
  const cols = series.map((s) => {
    const col: (number | null)[] = new Array<number | null>(xs.length).fill(null)
    for (const p of s.points) col[index.get(p[0])!] = p[1]
    return col
  })
  return [xs, ...cols] as uPlot.AlignedData
}

export class Chart {
  private plot: uPlot | undefined
  private readonly resize: ResizeObserver
  private series: ChartSeries[] = []

  constructor(
    private readonly box: HTMLElement,
    private readonly opts: ChartOptions,
  ) {
    this.resize = new ResizeObserver(() => {
      if (this.plot && Math.abs(this.plot.width - this.width()) > 2) this.plot.setSize({ width: this.width(), height: this.height() })
    })
    this.resize.observe(box)
  }

  private width(): number {
    return Math.max(200, this.box.clientWidth)
  }

  private height(): number {
    return this.opts.height ?? (window.innerWidth < 600 ? 150 : 190)
  }

  /** Points drawn (every series), for tests and the aria label. */
  get pointCount(): number {
    return this.series.reduce((n, s) => n + s.points.length, 0)
  }

  update(series: ChartSeries[]): void {
    const sameShape = this.plot && series.length === this.series.length && series.every((s, i) => s.label === this.series[i]!.label)
    this.series = series
    const data = align(series)
    this.box.dataset.points = String(this.pointCount)
    this.box.setAttribute('aria-label', this.describe())
    if (sameShape) {
      this.plot!.setData(data)
      return
    }
    this.plot?.destroy()
    this.plot = new uPlot(this.options(), data, this.box)
  }

  /** Colours come from CSS variables: rebuild when the colour scheme changes. */
  restyle(): void {
    if (!this.plot) return
    this.plot.destroy()
    this.plot = new uPlot(this.options(), align(this.series), this.box)
  }

  destroy(): void {
    this.resize.disconnect()
    this.plot?.destroy()
    this.plot = undefined
  }

  private describe(): string {
    const { metric, title } = this.opts
    const all = this.series.flatMap((s) => s.points.map((p) => p[1]))
    if (!all.length) return `${title}: no data in this range`
    const min = Math.min(...all)
    const max = Math.max(...all)
    return `${title}: ${this.series.length} series, ${all.length} points, from ${formatValue(metric, min)} to ${formatValue(metric, max)}`
  }

  private options(): uPlot.Options {
    const { metric } = this.opts
    const unit = metricInfo(metric).unit
    const axis = cssVar('--muted')
    const grid = cssVar('--grid')
    const fmt = (_u: uPlot, v: number | null) => (v === null || v === undefined ? '–' : formatValue(metric, v))
    return {
      width: this.width(),
      height: this.height(),
      cursor: { drag: { x: true, y: false, setScale: false } },
      legend: { live: true },
      scales: { x: { time: true }, y: unit === '%' ? { range: (_u, min, max) => [0, Math.max(100, max ?? 100, min ?? 0)] } : {} },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
        {
          stroke: axis,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          size: 56,
          label: unit || undefined,
          labelSize: unit ? 18 : 0,
          values: (_u, vals) => vals.map((v) => v.toLocaleString('en-US', { maximumFractionDigits: 1 })),
        },
      ],
      series: [
        { label: 'Time', value: (_u, v) => (v === null || v === undefined ? '–' : dateTimeText(new Date(v * 1000))) },
        ...this.series.map((s, i) => {
          const c = cssVar(PALETTE[i % PALETTE.length]!)
          return { label: s.label, stroke: c, width: 1.5, fill: this.series.length === 1 ? `${c}22` : undefined, value: fmt, points: { show: false } }
        }),
      ],
      hooks: {
        setSelect: [
          (u) => {
            const sel = u.select
            if (sel.width < 4 || !this.opts.onZoom) return
            const from = u.posToVal(sel.left, 'x')
            const to = u.posToVal(sel.left + sel.width, 'x')
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
            this.opts.onZoom(Math.floor(from), Math.ceil(to))
          },
        ],
      },
    }
  }
}

/** The view of a page that is its charts: they go with it and follow the colour scheme. */
export function chartsView(charts: ReadonlyMap<string, Chart>): { dispose(): void; restyle(): void } {
  return {
    dispose() {
      for (const c of charts.values()) c.destroy()
    },
    restyle() {
      for (const c of charts.values()) c.restyle()
    },
  }
}
