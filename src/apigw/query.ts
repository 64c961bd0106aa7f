// Parameters of the bucketed and fleet queries, resolved and checked before any SQL runs: the time
// range (absolute, relative or `window`), the step and its buckets, the aggregate and the point cap.
// Pure; every refusal is a TpipeError naming the parameter.
import { TpipeError } from '../errors.js'
import { formatDuration, parseDuration, parseTime } from '../telemetry/time.js'

import { AGGS, GROUP_BYS, MAX_POINTS, MAX_POINTS_PER_SERIES, type Agg, type GroupBy, type Source } from '../protocol/series.js'

export { AGGS, GROUP_BYS, MAX_POINTS, MAX_POINTS_PER_SERIES, type Agg, type GroupBy, type Source }
/** A step query without any time parameter covers the last hour. */
export const DEFAULT_WINDOW_MS = 3_600_000
export const MAX_STEP_MS = 31 * 86_400_000

export function badParameter(message: string): TpipeError {
  return new TpipeError('TPIPE_ERR_BAD_PARAMETER', message)
}

export interface TimeParams {
  start?: string | undefined
  end?: string | undefined
  start_time?: string | undefined
  end_time?: string | undefined
  window?: string | undefined
}

export interface Range {
  /** As given when absolute (microseconds survive for raw pages), else ISO 8601 of the resolved time. */
  startText: string
  endText: string
  startMs: number
  endMs: number
}

function oneOf(p: TimeParams, name: 'start' | 'end'): string | undefined {
  const a = p[name]
  const b = p[`${name}_time`]
  if (a !== undefined && b !== undefined) throw badParameter(`${name}: give ${name} or its alias ${name}_time, not both`)
  return a ?? b
}

function time(name: string, raw: string, now: number): { text: string; ms: number } {
  const t = parseTime(raw, now)
  if (!t) throw badParameter(`${name}: ${JSON.stringify(raw)} is not a time: use RFC 3339 (2025-07-18T20:42:34Z), now, or a relative time such as -1h, -15m, -7d`)
  return t
}

/**
 * The time range of a request. `window=1h` alone is [now-1h, now]; with `start` it ends at start+window,
 * with `end` it starts at end-window; all three together are refused. Without any of them the range is
 * open (raw pages) or `defaultWindowMs` ending now (step queries).
 */
export function resolveRange(p: TimeParams, now: number, defaultWindowMs?: number): Range | { open: true; start?: { text: string; ms: number }; end?: { text: string; ms: number } } {
  const startRaw = oneOf(p, 'start')
  const endRaw = oneOf(p, 'end')
  const startName = p.start !== undefined ? 'start' : 'start_time'
  const endName = p.end !== undefined ? 'end' : 'end_time'
  let start = startRaw === undefined ? undefined : time(startName, startRaw, now)
  let end = endRaw === undefined ? undefined : time(endName, endRaw, now)
  if (p.window !== undefined) {
    const w = parseDuration(p.window)
    if (w === undefined) throw badParameter(`window: ${JSON.stringify(p.window)} is not a duration such as 15m, 1h or 7d`)
    if (start && end) throw badParameter('window: give window with start or with end (or alone, ending now), not with both')
    if (start) end = { text: new Date(start.ms + w).toISOString(), ms: start.ms + w }
    else {
      end ??= { text: new Date(now).toISOString(), ms: now }
      start = { text: new Date(end.ms - w).toISOString(), ms: end.ms - w }
    }
  } else if (defaultWindowMs !== undefined) {
    if (!end) end = { text: new Date(now).toISOString(), ms: now }
    if (!start) start = { text: new Date(end.ms - defaultWindowMs).toISOString(), ms: end.ms - defaultWindowMs }
  }
  if (start && end && start.ms > end.ms) throw badParameter(`${startName} ${start.text} is after ${endName} ${end.text}`)
  if (start && end) return { startText: start.text, endText: end.text, startMs: start.ms, endMs: end.ms }
  return { open: true, ...(start ? { start } : {}), ...(end ? { end } : {}) }
}

export interface Buckets {
  stepSeconds: number
  /** First bucket start and end of the last bucket, in Unix seconds: whole buckets overlapping [start, end]. */
  fromS: number
  toS: number
  count: number
}

export function parseStep(raw: string): number {
  const ms = parseDuration(raw)
  if (ms === undefined || ms % 1000 !== 0) throw badParameter(`step: ${JSON.stringify(raw)} is not a duration in whole seconds such as 60s, 5m or 1h`)
  if (ms > MAX_STEP_MS) throw badParameter(`step: at most ${formatDuration(MAX_STEP_MS)}`)
  return ms / 1000
}

/**
 * Buckets aligned to the step from the Unix epoch (as Prometheus aligns query_range): each bucket is
 * [k·step, (k+1)·step) and every bucket overlapping [start, end] is returned whole. Refuses (400 naming
 * step) a request whose buckets times `series` exceed the caps, and says which step would fit.
 */
export function buckets(range: Range, stepSeconds: number, series: number): Buckets {
  const first = Math.floor(range.startMs / 1000 / stepSeconds)
  const last = Math.floor(range.endMs / 1000 / stepSeconds)
  const count = last - first + 1
  const spanS = Math.max(1, (range.endMs - range.startMs) / 1000)
  const perSeries = count
  const total = count * Math.max(1, series)
  if (perSeries > MAX_POINTS_PER_SERIES || total > MAX_POINTS) {
    const minStep = Math.ceil(Math.max(spanS / (MAX_POINTS_PER_SERIES - 1), (spanS * Math.max(1, series)) / (MAX_POINTS - Math.max(1, series))))
    throw badParameter(
      `step: ${count.toLocaleString('en')} buckets × ${series} series = ${total.toLocaleString('en')} points, over the limit of ${MAX_POINTS_PER_SERIES.toLocaleString('en')} per series and ${MAX_POINTS.toLocaleString('en')} per response; use a step of at least ${minStep}s or a shorter window`,
    )
  }
  return { stepSeconds, fromS: first * stepSeconds, toS: (last + 1) * stepSeconds, count }
}

/** How long each table keeps its rows (the maintenance loop's settings; apigw reads the same ones). */
export interface Retention {
  rawMs: number
  minuteMs: number
  hourMs: number
}

/**
 * The table that answers a step query. Candidates are the tables whose bucket divides the step, coarsest
 * first (hourly rollups for whole hours, per-minute rollups for whole minutes, raw rows always): each
 * gives exactly the same values for buckets aligned to the step, the coarser ones from fewer rows (30
 * days at step=1h: 720 hour rows instead of 43,200 minute rows). The first whose retention still covers
 * the first bucket answers; a window older than every candidate's retention goes to the one kept longest
 * (it holds the most of it). So with an hour retention shorter than the minutes' (a setting), a window
 * reaching past the hours is answered whole from the minutes.
 */
export function pickSource(stepSeconds: number, fromS: number, now: number, retention: Retention): Source {
  const candidates: { source: Source; retentionMs: number }[] = []
  if (stepSeconds % 3600 === 0) candidates.push({ source: 'telemetry_1h', retentionMs: retention.hourMs })
  if (stepSeconds % 60 === 0) candidates.push({ source: 'telemetry_1m', retentionMs: retention.minuteMs })
  candidates.push({ source: 'telemetry', retentionMs: retention.rawMs })
  const covering = candidates.find((c) => now - c.retentionMs <= fromS * 1000)
  if (covering) return covering.source
  return candidates.reduce((best, c) => (c.retentionMs > best.retentionMs ? c : best)).source
}

export function parseAgg(raw: string | undefined): Agg {
  if (raw === undefined) return 'avg'
  if (!(AGGS as readonly string[]).includes(raw)) throw badParameter(`agg: ${JSON.stringify(raw)} is not one of ${AGGS.join(', ')}`)
  return raw as Agg
}

export function parseGroupBy(raw: string | undefined): GroupBy {
  if (raw === undefined) return 'gpu'
  if (!(GROUP_BYS as readonly string[]).includes(raw)) throw badParameter(`group_by: ${JSON.stringify(raw)} is not one of ${GROUP_BYS.join(', ')}`)
  return raw as GroupBy
}

/** `metrics=A,B`: names, no empty item, no repeat, at most `max`. */
export function parseMetricList(raw: string, name: string, max: number): string[] {
  const names = raw.split(',').map((s) => s.trim())
  if (names.some((n) => n.length === 0)) throw badParameter(`${name}: an empty metric name in ${JSON.stringify(raw)}`)
  if (names.some((n) => n.length > 256)) throw badParameter(`${name}: a metric name is longer than 256 characters`)
  const unique = [...new Set(names)]
  if (unique.length > max) throw badParameter(`${name}: at most ${max} metrics`)
  return unique
}
