// Durations and times as the query API, the CLI and the retention settings spell them: one parser.
// Durations: a positive whole number and a unit (`10s`, `1m`, `5m`, `1h`, `7d`, `2w`; `ms` too).
// Times: RFC 3339, `now`, or a negative duration relative to now (`-1h`, `-15m`, `-7d`).
import { isRfc3339 } from '../apigw/cursor.js'

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const
const DURATION = /^(\d{1,12})(ms|s|m|h|d|w)$/

/** Milliseconds of a duration such as `60s`, `5m`, `1h`, `7d`; undefined when it is not one (or 0). */
export function parseDuration(s: string): number | undefined {
  const m = DURATION.exec(s.trim())
  if (!m) return undefined
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined
}

/** The shortest exact spelling of a duration: 86400000 → `1d`, 90000 → `90s`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', UNIT_MS.d], ['h', UNIT_MS.h], ['m', UNIT_MS.m], ['s', UNIT_MS.s]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

/** A time parameter resolved against `now`: the RFC 3339 text as given (microseconds survive) and its ms. */
export interface ResolvedTime {
  text: string
  ms: number
}

/**
 * `now`, `-1h` (relative to now) or RFC 3339. Undefined when the text is none of these.
 * Relative times are absolute once resolved: one request resolves every parameter against one `now`.
 */
export function parseTime(s: string, now: number): ResolvedTime | undefined {
  const t = s.trim()
  if (t === 'now') return { text: new Date(now).toISOString(), ms: now }
  if (t.startsWith('-')) {
    const d = parseDuration(t.slice(1))
    if (d === undefined) return undefined
    const ms = now - d
    if (ms < -8.64e15) return undefined // before the first date JavaScript (and the API) can write
    return { text: new Date(ms).toISOString(), ms }
  }
  if (!isRfc3339(t)) return undefined
  const ms = Date.parse(t)
  return Number.isFinite(ms) ? { text: t, ms } : undefined
}
