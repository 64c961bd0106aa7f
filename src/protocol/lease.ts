// The queue's read-side wire formats (mqreader ⇄ collector): POST /v1/lease, POST /v1/ack and POST /v1/release.
// The lease answer is the hot path: mqreader never parses or re-serialises payloads. Each message's JSON
// up to `"delivery_count":` is rendered once when the row is loaded (payload spliced in as the text
// PostgreSQL returned) and an answer is a copy of those heads into one Buffer. The renderers below are the
// only code that writes that text; lease.test.ts checks their output against the LeaseAnswer schema.
import { Type, type Static } from '@sinclair/typebox'

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'

/** POST /v1/lease body; the limits come from the reader's settings. */
export function leaseRequestSchema(limits: { leaseMax: number; maxWaitMs: number }) {
  return Type.Object(
    {
      max: Type.Integer({ minimum: 1, maximum: limits.leaseMax }),
      visibility_timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
      wait_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: limits.maxWaitMs })),
      /** Most bytes of messages in the answer (the reader's lease-max-bytes when larger or absent). */
      max_bytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 2 ** 31 - 1 })),
    },
    { additionalProperties: false },
  )
}
export type LeaseRequest = Static<ReturnType<typeof leaseRequestSchema>>

/** One delivered message. Field order is the rendered order: delivery_count last (see renderLease). */
export const LeasedMessage = Type.Object({
  msg_uuid: Type.String({ pattern: UUID_PATTERN }),
  key: Type.String(),
  partition: Type.Integer({ minimum: 0 }),
  payload: Type.Unknown(),
  enqueued_at: Type.String({ format: 'date-time' }),
  /** Deliveries so far, counting this one. */
  delivery_count: Type.Integer({ minimum: 1 }),
})
export type LeasedMessage = Static<typeof LeasedMessage>

/** POST /v1/lease answer. Nothing ready (after wait_ms): lease_id and expires_at null, no messages. */
export const LeaseAnswer = Type.Object({
  lease_id: Type.Union([Type.String(), Type.Null()]),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  messages: Type.Array(LeasedMessage),
})
export type LeaseAnswer = Static<typeof LeaseAnswer>

/** POST /v1/ack body: the whole lease, or only the listed messages of it. */
export function ackRequestSchema(limits: { leaseMax: number }) {
  return Type.Object(
    {
      lease_id: Type.String({ minLength: 1, maxLength: 100 }),
      msg_uuids: Type.Optional(Type.Array(Type.String({ pattern: UUID_PATTERN }), { maxItems: limits.leaseMax })),
    },
    { additionalProperties: false },
  )
}
export type AckRequest = Static<ReturnType<typeof ackRequestSchema>>

/** POST /v1/ack answer, sent once the DELETE holding the messages has committed. */
export const AckAnswer = Type.Object({ acked: Type.Integer({ minimum: 0 }) })
export type AckAnswer = Static<typeof AckAnswer>

/** Most lease ids one POST /v1/release names (a collector holds a few leases per reader). */
export const RELEASE_MAX_LEASES = 1000

/**
 * POST /v1/release body: leases handed back unprocessed (a collector stopping, or leaving this reader).
 * Their messages are ready again at once; the release is not a delivery attempt (delivery_count stays).
 */
export const ReleaseRequest = Type.Object(
  {
    lease_ids: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: RELEASE_MAX_LEASES }),
  },
  { additionalProperties: false },
)
export type ReleaseRequest = Static<typeof ReleaseRequest>

/** POST /v1/release answer. Unknown, expired or already acked lease ids are ignored and counted in `unknown`. */
export const ReleaseAnswer = Type.Object({
  released_leases: Type.Integer({ minimum: 0 }),
  released_messages: Type.Integer({ minimum: 0 }),
  unknown: Type.Integer({ minimum: 0 }),
})
export type ReleaseAnswer = Static<typeof ReleaseAnswer>

/** What a stored row gives the renderer (the columns of mqreader's loads). */
export interface MessageSource {
  msg_uuid: string
  key: string
  partition: number
  /** The payload as JSON text, exactly as PostgreSQL returned it (never parsed here). */
  payloadJson: string
  /** RFC 3339, UTC. */
  enqueued_at: string
}

// The fields renderMessageHead writes (all of LeasedMessage but delivery_count, appended at lease time).
// Compiles only while that is exactly the schema's field list: a field added there must be rendered here.
type Rendered = 'msg_uuid' | 'key' | 'partition' | 'payload' | 'enqueued_at'
type HeadFields = Exclude<keyof LeasedMessage, 'delivery_count'>
const _sameFields: [Exclude<HeadFields, Rendered>, Exclude<Rendered, HeadFields>] extends [never, never] ? true : never = true

/**
 * A message's JSON up to and including `"delivery_count":` (one LeasedMessage minus its count) as UTF-8 bytes,
 * and the bytes the rendered message takes (head, up to 10 digits of count, closing brace): what lease byte
 * bounds count. Bytes, not a string: an answer is then a copy of its heads into one Buffer. Answers built as
 * strings (a join of ~100 KB heads, flattened again for Content-Length and for the socket write behind the
 * headers) spent ~20% of the reader's CPU on fresh pages for those multi-MB strings (perf, 2026-12-02).
 */
export function renderMessageHead(m: MessageSource): { head: Buffer; bytes: number } {
  // The schema's field order (lease.test.ts checks it); uuid and time are formats without characters to escape.
  const before = `{"msg_uuid":"${m.msg_uuid}","key":${JSON.stringify(m.key)},"partition":${m.partition},"payload":`
  const after = `,"enqueued_at":"${m.enqueued_at}","delivery_count":`
  const b = Buffer.byteLength(before)
  const p = Buffer.byteLength(m.payloadJson)
  // Never from node's shared 8 KB pool: a held head must not keep a slab of other messages' bytes alive,
  // so what the reader counts (bytes) stays what it holds.
  const head = Buffer.allocUnsafeSlow(b + p + after.length)
  head.write(before, 0)
  head.write(m.payloadJson, b)
  head.write(after, b + p, 'latin1')
  return { head, bytes: head.length + 11 }
}

/** What a lease holds, as far as rendering goes. */
export interface RenderableLease {
  readonly id: string
  /** Wall-clock milliseconds since the epoch. */
  readonly expiresAt: number
  readonly msgs: readonly { readonly head: Buffer; readonly deliveries: number }[]
}

export const EMPTY_LEASE_ANSWER = '{"lease_id":null,"expires_at":null,"messages":[]}'
const EMPTY_LEASE_BYTES = Buffer.from(EMPTY_LEASE_ANSWER)

/** The lease answer, copied into one Buffer: each message is its head, its delivery count and a brace. */
export function renderLease(lease: RenderableLease | null): Buffer {
  if (!lease) return EMPTY_LEASE_BYTES
  const msgs = lease.msgs
  // lease ids are uuids and times ISO 8601: ASCII, one byte a character.
  const open = `{"lease_id":"${lease.id}","expires_at":"${new Date(lease.expiresAt).toISOString()}","messages":[`
  let size = open.length + 2 + Math.max(0, msgs.length - 1)
  const counts: string[] = new Array(msgs.length)
  for (let i = 0; i < msgs.length; i++) {
    counts[i] = String(msgs[i]!.deliveries)
    size += msgs[i]!.head.length + counts[i]!.length + 1
  }
  const out = Buffer.allocUnsafe(size)
  let at = out.write(open, 0, 'latin1')
  for (let i = 0; i < msgs.length; i++) {
    if (i > 0) out[at++] = 0x2c // ,
    at += msgs[i]!.head.copy(out, at)
    at += out.write(counts[i]!, at, 'latin1')
    out[at++] = 0x7d // }
  }
  out[at++] = 0x5d // ]
  out[at++] = 0x7d // }
  return out
}
