// The telemetry payload: what the streamer publishes and the collector turns into a telemetry row.
// One TypeBox schema, in one place; both sides import it.
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import '../protocol/formats.js'

export const TelemetryPayload = Type.Object(
  {
    /** RFC 3339 UTC time the streamer emitted the row (re-stamped with now). */
    ts: Type.String({ format: 'date-time', minLength: 20, maxLength: 40 }),
    metric_name: Type.String({ minLength: 1, maxLength: 256 }),
    gpu_id: Type.Integer({ minimum: 0, maximum: 32767 }),
    device: Type.String({ maxLength: 256 }),
    /** The GPU's own uuid (GPU-…): the partition key and the API's {id}. */
    gpu_uuid: Type.String({ minLength: 1, maxLength: 256 }),
    model_name: Type.String({ maxLength: 256 }),
    hostname: Type.String({ maxLength: 256 }),
    container: Type.Union([Type.String({ maxLength: 256 }), Type.Null()]),
    pod: Type.Union([Type.String({ maxLength: 256 }), Type.Null()]),
    namespace: Type.Union([Type.String({ maxLength: 256 }), Type.Null()]),
    value: Type.Number(),
    /** labels_raw of the CSV (k="v",…) parsed into an object; null when the row had none. */
    labels: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()]),
  },
  { additionalProperties: true, $id: 'TelemetryPayload' },
)
export type TelemetryPayload = Static<typeof TelemetryPayload>

const checker = TypeCompiler.Compile(TelemetryPayload)

/** Validates a payload; returns the first error as "path: message" or undefined. */
export function checkTelemetryPayload(p: unknown): string | undefined {
  if (checker.Check(p)) return undefined
  const first = checker.Errors(p).First()
  return first ? `${first.path || '/'}: ${first.message}` : 'invalid payload'
}

/**
 * Parses the DCGM exporter's labels_raw form: k="v",k2="v2" (values may contain commas, escaped
 * quotes \" and backslashes). Returns null for an empty string; throws on malformed text.
 */
export function parseLabels(raw: string): Record<string, string> | null {
  const s = raw.trim()
  if (s === '') return null
  const out: Record<string, string> = {}
  let i = 0
  while (i < s.length) {
    const eq = s.indexOf('=', i)
    if (eq < 0) throw new Error(`labels: expected key="value" at offset ${i}`)
    const key = s.slice(i, eq).trim()
    if (!/^[A-Za-z_][A-Za-z0-9_.:/-]*$/.test(key)) throw new Error(`labels: bad key ${JSON.stringify(key)}`)
    if (s[eq + 1] !== '"') throw new Error(`labels: value of ${key} must be quoted`)
    let j = eq + 2
    let val = ''
    for (;;) {
      if (j >= s.length) throw new Error(`labels: unterminated value of ${key}`)
      const c = s[j]!
      if (c === '\\' && j + 1 < s.length) {
        const n = s[j + 1]!
        val += n === 'n' ? '\n' : n
        j += 2
        continue
      }
      if (c === '"') break
      val += c
      j++
    }
    out[key] = val
    j++ // closing quote
    while (j < s.length && s[j] === ' ') j++
    if (j < s.length) {
      if (s[j] !== ',') throw new Error(`labels: expected , after ${key}`)
      j++
    }
    i = j
  }
  return out
}
