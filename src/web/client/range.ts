// The time-range control of the GPU and host pages: 15m · 1h · 6h · 24h · 7d buttons, a custom
// from/to form, the aggregate; kept in the URL (#/gpu/<id>?range=6h or ?start=…&end=…&agg=max).
import { chooseStep, durationText, RANGES, type RangeKey } from '../metrics.js'
import type { Params } from './api.js'
import type { Ctx } from './app.js'
import { $, esc } from './dom.js'

export type Range = { key: RangeKey } | { start: number; end: number }

export const AGGS = ['avg', 'min', 'max', 'last'] as const
export type Agg = (typeof AGGS)[number]

export interface RangeState {
  range: Range
  agg: Agg
}

export function readRange(p: URLSearchParams): RangeState {
  const agg = (AGGS as readonly string[]).includes(p.get('agg') ?? '') ? (p.get('agg') as Agg) : 'avg'
  const start = Date.parse(p.get('start') ?? '')
  const end = Date.parse(p.get('end') ?? '')
  if (Number.isFinite(start) && Number.isFinite(end) && end > start) return { range: { start: start / 1000, end: end / 1000 }, agg }
  const key = RANGES.find((r) => r.key === p.get('range'))?.key ?? '1h'
  return { range: { key }, agg }
}

export function rangeSeconds(r: Range): number {
  return 'key' in r ? RANGES.find((x) => x.key === r.key)!.seconds : r.end - r.start
}

/** The API parameters of a range: window=… (relative, ends now) or start/end, plus step and agg. */
export function rangeParams(s: RangeState, maxPointsPerSeries: number): { params: Params; step: number } {
  const step = chooseStep(rangeSeconds(s.range), maxPointsPerSeries)
  const time: Params =
    'key' in s.range
      ? [['window', s.range.key]]
      : [
          ['start', new Date(s.range.start * 1000).toISOString()],
          ['end', new Date(s.range.end * 1000).toISOString()],
        ]
  return { params: [...time, ['step', durationText(step)], ['agg', s.agg]], step }
}

function localInput(seconds: number): string {
  const d = new Date(seconds * 1000 - new Date(seconds * 1000).getTimezoneOffset() * 60000)
  return d.toISOString().slice(0, 16)
}

/** Renders the control into `box`; calls onChange after updating the URL. */
export function rangeControl(ctx: Ctx, box: HTMLElement, state: RangeState, extra: Record<string, string>, onChange: () => void): { set(range: Range): void } {
  const draw = () => {
    const r = state.range
    const custom = !('key' in r)
    const to = custom ? r.end : Date.now() / 1000
    const from = custom ? r.start : to - rangeSeconds(r)
    box.innerHTML = `
      <div class="ranges" role="group" aria-label="Time range">
        ${RANGES.map((x) => `<button type="button" data-range="${x.key}" aria-pressed="${'key' in r && r.key === x.key}" aria-label="last ${x.label}">${x.key}</button>`).join('')}
      </div>
      <form class="custom" aria-label="Custom time range">
        <label>From <input type="datetime-local" id="r-from" value="${esc(localInput(from))}" required></label>
        <label>To <input type="datetime-local" id="r-to" value="${esc(localInput(to))}" required></label>
        <button type="submit"${custom ? ' aria-pressed="true"' : ''}>Apply</button>
      </form>
      <label class="agg">Aggregate <select id="r-agg">${AGGS.map((a) => `<option${a === state.agg ? ' selected' : ''}>${a}</option>`).join('')}</select></label>`
    box.querySelectorAll<HTMLButtonElement>('button[data-range]').forEach((b) =>
      b.addEventListener('click', () => {
        state.range = { key: b.dataset.range as RangeKey }
        changed()
        box.querySelector<HTMLButtonElement>(`button[data-range="${b.dataset.range}"]`)?.focus()
      }),
    )
    $(box, 'form.custom').addEventListener('submit', (e) => {
      e.preventDefault()
      const a = Date.parse($<HTMLInputElement>(box, '#r-from').value)
      const b = Date.parse($<HTMLInputElement>(box, '#r-to').value)
      if (Number.isFinite(a) && Number.isFinite(b) && b > a) {
        state.range = { start: a / 1000, end: b / 1000 }
        changed()
      }
    })
    $<HTMLSelectElement>(box, '#r-agg').addEventListener('change', (e) => {
      state.agg = (e.target as HTMLSelectElement).value as Agg
      changed()
    })
  }
  const changed = () => {
    const p = new URLSearchParams(extra)
    if ('key' in state.range) p.set('range', state.range.key)
    else {
      p.set('start', new Date(state.range.start * 1000).toISOString())
      p.set('end', new Date(state.range.end * 1000).toISOString())
    }
    if (state.agg !== 'avg') p.set('agg', state.agg)
    ctx.setParams(p)
    draw()
    onChange()
  }
  draw()
  return {
    set(range: Range) {
      state.range = range
      changed()
    },
  }
}
