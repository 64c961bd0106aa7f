import { UUID_RE } from '../util/ids.js'

export interface PublishMessage {
  key: string
  payload: Record<string, unknown>
  id?: string
}

const ALLOWED = new Set(['key', 'payload', 'id'])
export const MAX_KEY_LENGTH = 1024

/**
 * Validates a publish body: one message or an array of them. Hand-written rather than an ajv oneOf
 * because oneOf errors cannot say which element and field is wrong ("body/3/key must be a string" is
 * what a producer needs), and because this runs once per request on the hot path.
 * Returns the messages or an error text naming the field.
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
  if (msg.payload === null || typeof msg.payload !== 'object' || Array.isArray(msg.payload)) return `${path}/payload must be an object`
  if (msg.id !== undefined && (typeof msg.id !== 'string' || !UUID_RE.test(msg.id))) return `${path}/id must be a UUID`
  return undefined
}

/** JSON schema of one message, for the OpenAPI document. */
export const publishMessageSchema = {
  type: 'object',
  required: ['key', 'payload'],
  additionalProperties: false,
  properties: {
    key: { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH, description: 'Partition key (the GPU uuid for telemetry).' },
    payload: { type: 'object', additionalProperties: true, description: 'The message body, stored as jsonb.' },
    id: { type: 'string', format: 'uuid', description: 'Optional idempotency key; becomes msg_uuid. Publishing the same id again stores nothing new.' },
  },
} as const
