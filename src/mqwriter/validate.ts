import { MAX_KEY_LENGTH, PublishMessage } from '../protocol/publish.js'
import { isWellFormed } from '../util/text.js'
import { UUID_RE } from '../util/ids.js'

export { MAX_KEY_LENGTH }

const ALLOWED = new Set(Object.keys(PublishMessage.properties))

/**
 * Validates a publish body: one message or an array of them. Hand-written rather than an ajv oneOf
 * because oneOf errors cannot say which element and field is wrong ("body/3/key must be a string" is
 * what a producer needs), and because this runs once per request on the hot path.
 * Returns the messages or an error text naming the field. Checks exactly what the PublishMessage schema
 * (src/protocol/publish.ts) says; validate.test.ts holds the two to each other.
 */
export function validatePublishBody(body: unknown, maxBatch: number): { messages: PublishMessage[] } | { error: string } {
  if (Array.isArray(body)) {
    if (body.length === 0) return { error: 'body must not be an empty array' }
    if (body.length > maxBatch) return { error: `body has ${body.length} messages; at most ${maxBatch} per publish` }
    for (let i = 0; i < body.length; i++) {
      const err = checkMessage(body[i], `body/${i}`)
      if (err) return { error: err }
    }
    return { messages: body as PublishMessage[] }
  }
  const err = checkMessage(body, 'body')
  return err ? { error: err } : { messages: [body as PublishMessage] }
}

function checkMessage(m: unknown, path: string): string | undefined {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return `${path} must be an object with key and payload`
  const msg = m as Record<string, unknown>
  for (const k in msg) if (!ALLOWED.has(k)) return `${path}/${k} is not allowed (allowed: key, payload, id)`
  if (typeof msg.key !== 'string') return `${path}/key must be a string`
  if (msg.key.length === 0 || msg.key.length > MAX_KEY_LENGTH) return `${path}/key must be 1..${MAX_KEY_LENGTH} characters`
  // The driver would store a lone surrogate as U+FFFD: another key than the one published.
  if (!isWellFormed(msg.key) || msg.key.includes('\0')) return `${path}/key holds NUL or a lone UTF-16 surrogate, which PostgreSQL text cannot hold`
  if (msg.payload === null || typeof msg.payload !== 'object' || Array.isArray(msg.payload)) return `${path}/payload must be an object`
  if (msg.id !== undefined && (typeof msg.id !== 'string' || !UUID_RE.test(msg.id))) return `${path}/id must be a UUID`
  return undefined
}
