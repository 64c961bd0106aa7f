// The queue's write side (producers → mqwriter): POST /v1/publish. The body is one message or an array
// of them; mqwriter checks it with a hand-written validator that names the bad element and field
// (src/mqwriter/validate.ts, tested against this schema), the schema documents it.
import { Type, type Static } from '@sinclair/typebox'

export const MAX_KEY_LENGTH = 1024

export const PublishMessage = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: MAX_KEY_LENGTH, description: 'Partition key (the GPU uuid for telemetry).' }),
    payload: Type.Object({}, { additionalProperties: true, description: 'The message body (a JSON object), stored as the JSON text mqwriter serialised; one holding NUL or a lone surrogate is refused (400).' }),
    id: Type.Optional(Type.String({ format: 'uuid', description: 'Optional idempotency key; becomes msg_uuid. Publishing the same id again stores nothing new.' })),
  },
  { additionalProperties: false },
)
/** payload is any JSON object. */
export type PublishMessage = Omit<Static<typeof PublishMessage>, 'payload'> & { payload: Record<string, unknown> }

/** The publish body: one message, or 1..maxBatch of them. */
export function publishBodySchema(maxBatch: number) {
  return Type.Union([PublishMessage, Type.Array(PublishMessage, { minItems: 1, maxItems: maxBatch })])
}

/** 201 answer: the stored messages' ids and partitions, in the order sent. */
export const PublishAnswer = Type.Object({
  msg_uuids: Type.Array(Type.String({ format: 'uuid' })),
  partitions: Type.Array(Type.Integer()),
})
export type PublishAnswer = Static<typeof PublishAnswer>
