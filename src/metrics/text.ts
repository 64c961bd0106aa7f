/**
 * Parses Prometheus text exposition into series name → value, summing label sets of one name
 * (the supervisor wants totals per process). Comment lines and histogram internals are kept by name.
 */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line)
    if (!m) continue
    const v = Number(m[3])
    if (!Number.isFinite(v)) continue
    out.set(m[1]!, (out.get(m[1]!) ?? 0) + v)
  }
  return out
}
