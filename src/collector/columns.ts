// Telemetry rows as one PostgreSQL array literal a column, for INSERT … SELECT FROM unnest($1::uuid[], …).
// The collector took a lease's rows as one JSON array through json_to_recordset before (2026-12-01), which
// looks every field of every row up by name: bench/telemetry-insert.ts (1,650 remote_write rows a statement,
// triggers included, interleaved) 27.4 → 19.2 µs of the database's time a row, and 4.2 → 2.4 µs of the
// collector's JS. Each value is checked and encoded here, so a value PostgreSQL could not hold fails its own
// row (a dead letter) instead of the whole statement, and a payload's other fields are never read.
import { unstorableEscape } from '../protocol/unstorable.js'
import { isWellFormed } from '../util/text.js'

/** The telemetry columns a row fills, in statement order, with their types. */
export const TELEMETRY_COLUMNS = [
  ['msg_uuid', 'uuid'],
  ['gpu_uuid', 'text'],
  ['gpu_id', 'smallint'],
  ['device', 'text'],
  ['hostname', 'text'],
  ['model_name', 'text'],
  ['metric_name', 'text'],
  ['value', 'double precision'],
  ['ts', 'timestamptz'],
  ['container', 'text'],
  ['pod', 'text'],
  ['namespace', 'text'],
  ['labels', 'jsonb'],
  ['series_id', 'uuid'],
] as const

export type TelemetryColumn = (typeof TELEMETRY_COLUMNS)[number][0]

const NEEDS_ESCAPE = /["\\]/
const ESCAPE = /["\\]/g

/**
 * One array element: NULL for null/undefined, otherwise the value's text double-quoted (so commas,
 * braces, spaces and the word NULL are literal) with `"` and `\` escaped. Text PostgreSQL cannot hold
 * (NUL, a lone UTF-16 surrogate, which the driver's UTF-8 encoding would turn into U+FFFD) throws.
 */
export function element(v: unknown, column: string): string {
  if (v === null || v === undefined) return 'NULL'
  let s: string
  if (typeof v === 'string') s = v
  else if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`${column} is ${v}, not a finite number`)
    return String(v)
  } else if (typeof v === 'object') s = JSON.stringify(v)
  else s = String(v)
  if (s.includes('\0')) throw new Error(`${column} holds NUL, which PostgreSQL text cannot hold`)
  if (!isWellFormed(s)) throw new Error(`${column} holds a lone UTF-16 surrogate, which PostgreSQL text cannot hold`)
  return NEEDS_ESCAPE.test(s) ? `"${s.replace(ESCAPE, '\\$&')}"` : `"${s}"`
}

/** Rows collected column by column; `add` adds a whole row or, when one of its values throws, nothing. */
export class TelemetryColumns {
  private readonly cols: string[][] = TELEMETRY_COLUMNS.map(() => [])
  private readonly row: string[] = new Array<string>(TELEMETRY_COLUMNS.length)

  get length(): number {
    return this.cols[0]!.length
  }

  /** The row's values by column name (a payload object with its msg_uuid; missing columns are NULL). */
  add(values: Readonly<Record<string, unknown>>): void {
    for (let i = 0; i < TELEMETRY_COLUMNS.length; i++) {
      const name = TELEMETRY_COLUMNS[i]![0]
      const v = values[name]
      if (name === 'labels' && v !== null && v !== undefined) {
        const json = JSON.stringify(v)
        if (unstorableEscape(json) !== undefined) throw new Error('labels hold NUL or a lone UTF-16 surrogate, which PostgreSQL jsonb cannot hold')
        this.row[i] = element(json, name)
      } else {
        this.row[i] = element(v, name)
      }
    }
    for (let i = 0; i < TELEMETRY_COLUMNS.length; i++) this.cols[i]!.push(this.row[i]!)
  }

  /** One array literal a column, in TELEMETRY_COLUMNS order. */
  literals(): string[] {
    return this.cols.map((c) => `{${c.join(',')}}`)
  }
}

/** The rows (payload objects with their msg_uuid) as column literals; throws on the first bad value. */
export function columnsOf(rows: readonly Readonly<Record<string, unknown>>[]): TelemetryColumns {
  const c = new TelemetryColumns()
  for (const r of rows) c.add(r)
  return c
}
