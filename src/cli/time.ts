// The time and duration flags of the query commands (--start, --end, --since) as people type them, checked
// before anything is sent so a mistake is reported under the flag's own name (never the API's parameter
// name). Relative forms are passed on relative (`-1h`), so apigw resolves them against its own clock.
import { isRfc3339 } from '../apigw/cursor.js'
import { parseDuration } from '../telemetry/time.js'
import { CliFailure } from './base.js'

export const TIME_FORMS = 'RFC 3339 (2025-07-18T20:42:34Z), a date (2025-07-18, midnight UTC), a date and time without zone (2025-07-18T20:42, UTC), now, today, yesterday, or relative to now (-1h, 15m ago, 7d ago)'
export const DURATION_FORMS = 'a duration such as 15m, 1h, 24h or 7d'

/** A time flag resolved: what goes into the query (`start=`) and its instant (for steps and checks). */
export interface FlagTime {
  param: string
  ms: number
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const LOCAL = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?$/
const AGO = /^(\d{1,12}\s*(?:ms|s|m|h|d|w))\s+ago$/

function utcMidnight(ms: number): number {
  const d = new Date(ms)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
}

/** Parses one time form (see TIME_FORMS); undefined when the text is none of them. */
export function parseFlagTime(raw: string, now: number): FlagTime | undefined {
  const t = raw.trim()
  const lower = t.toLowerCase()
  if (lower === 'now') return { param: 'now', ms: now }
  if (lower === 'today' || lower === 'yesterday') {
    const ms = utcMidnight(now) - (lower === 'yesterday' ? 86_400_000 : 0)
    return { param: new Date(ms).toISOString(), ms }
  }
  const rel = t.startsWith('-') ? t.slice(1) : AGO.exec(lower)?.[1]?.replace(/\s+/g, '')
  if (rel !== undefined) {
    const d = parseDuration(rel)
    return d === undefined ? undefined : { param: `-${rel}`, ms: now - d }
  }
  if (isRfc3339(t)) return { param: t, ms: Date.parse(t) }
  if (DATE.test(t)) return isRfc3339(`${t}T00:00:00Z`) ? { param: `${t}T00:00:00Z`, ms: Date.parse(`${t}T00:00:00Z`) } : undefined
  const local = LOCAL.exec(t)
  if (local) {
    const text = `${local[1]}T${local[2]}:${local[3]}:${local[4] ?? '00'}${local[5] ?? ''}Z`
    return isRfc3339(text) ? { param: text, ms: Date.parse(text) } : undefined
  }
  return undefined
}

/** The value of a time flag or a usage failure (exit 2) that names the flag as typed and every accepted form. */
export function flagTime(flag: string, raw: string | undefined, now = Date.now()): FlagTime | undefined {
  if (raw === undefined) return undefined
  const t = parseFlagTime(raw, now)
  if (!t) throw new CliFailure(`--${flag} ${JSON.stringify(raw)} is not a time: use ${TIME_FORMS}`, 'TPIPE_ERR_USAGE')
  return t
}

/** A duration flag (`--since 1h`; `--step 5m`) or a usage failure naming the flag. */
export function flagDuration(flag: string, raw: string | undefined): { param: string; ms: number } | undefined {
  if (raw === undefined) return undefined
  const t = raw.trim().replace(/^-/, '')
  const ms = parseDuration(t)
  if (ms === undefined) throw new CliFailure(`--${flag} ${JSON.stringify(raw)} is not ${DURATION_FORMS}`, 'TPIPE_ERR_USAGE')
  return { param: t, ms }
}

/** The window flags of a query command as API parameters: start/end/window, checked together. */
export function windowParams(flags: { start?: string | undefined; end?: string | undefined; since?: string | undefined }, now = Date.now()): { query: [string, string][]; startMs?: number; endMs?: number } {
  const start = flagTime('start', flags.start, now)
  const end = flagTime('end', flags.end, now)
  const since = flagDuration('since', flags.since)
  if (since && start) throw new CliFailure('--since is a window ending now (or at --end): give --since or --start, not both', 'TPIPE_ERR_USAGE')
  if (start && end && start.ms > end.ms) throw new CliFailure(`--start ${flags.start} is after --end ${flags.end}`, 'TPIPE_ERR_USAGE')
  const query: [string, string][] = []
  if (start) query.push(['start', start.param])
  if (end) query.push(['end', end.param])
  if (since) query.push(['window', since.param])
  const endMs = end?.ms ?? (since ? now : undefined)
  const startMs = start?.ms ?? (since ? (endMs ?? now) - since.ms : undefined)
  return { query, ...(startMs !== undefined ? { startMs } : {}), ...(endMs !== undefined ? { endMs } : {}) }
}
