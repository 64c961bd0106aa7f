// What PostgreSQL's text and jsonb cannot hold, found in serialised JSON: shared by mqwriter (refused at
// publish), the scraper (labels kept inline) and the collector (rows and dead letters).
// A \u0000 escape or a surrogate escape that is not itself escaped (an even run of backslashes before it).
// JSON.stringify writes paired surrogates as characters and only lone ones as \uD8xx–\uDFxx escapes.
const UNSTORABLE = /(?<!\\)(?:\\\\)*\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})/

/**
 * What in serialised JSON PostgreSQL cannot store as text or jsonb (the collector's telemetry columns and
 * dead letters): NUL and lone UTF-16 surrogates. Returns the escape, or undefined. The queue keeps JSON
 * text, which would accept them, so mqwriter refuses them at publish instead of a dead letter failing later.
 */
export function unstorableEscape(json: string): string | undefined {
  if (!json.includes('\\u')) return undefined
  const m = UNSTORABLE.exec(json)
  return m ? m[0].slice(m[0].lastIndexOf('\\u')) : undefined
}
