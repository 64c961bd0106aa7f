// The last step of answers whose JSON text PostgreSQL builds (sql.ts telemetryPageJson, fleetLatestJson):
// numbers outside the range where PostgreSQL's float8 text is already JavaScript's come marked, and are
// written here exactly as JSON.stringify writes the number node-pg would have parsed from that text.

// eslint-disable-next-line no-control-regex -- U+0001 is the mark jsonNumber (sql.ts) puts around the values to convert
const MARKED = /\x01([^\x01]*)\x01/g

/** JSON.stringify of a number: finite as Number#toString (-0 as 0), NaN and ±Infinity as null. */
export function jsonNumberText(v: number): string {
  return Number.isFinite(v) ? String(v) : 'null'
}

/** Replaces every U+0001-marked float8 text (jsonNumber in sql.ts) by its JSON number. */
export function finishJson(text: string): string {
  return text.includes('\x01') ? text.replace(MARKED, (_, t: string) => jsonNumberText(parseFloat(t))) : text
}
