// Bundles: many telemetry messages in one queue row. The batched live sources (remote_write) accept
// thousands of samples a request; one queue row per sample made the queue's own per-row work (the
// write side's INSERT, the reader's load and the DELETE on ack) the largest share of the database's
// time. A bundle row carries up to BUNDLE_MAX_MESSAGES messages, each with its own msg_uuid (the
// sample's content id), and the collector expands it back into those messages before persisting:
// telemetry keeps one row per sample, deduplicated on (ts, msg_uuid) as before, so a sample re-sent in
// another bundle (a retried request chunked differently) is still stored once. The bundle's own
// msg_uuid is derived from its members' ids, so a request retried unchanged is deduplicated already in
// the queue. A member that cannot become a row is dead-lettered alone under its own id.
//
// Payload: {"tpipe_bundle":[{"msg_uuid":"…","payload":{…}}, …]}. Anyone who may publish may publish
// such a payload too; it grants nothing a publish of its members would not.
import { partitionOf } from '../partitions/hash.js'
import { hashUuid } from '../util/ids.js'
import type { LeasedMessage } from './lease.js'

export const BUNDLE_FIELD = 'tpipe_bundle'
/**
 * A telemetry payload's series id in place of its labels, set by mqwriter's remote_write receiver only:
 * the series' labels were written to telemetry_series in the statement that queued the payload. The
 * collector takes it as the row's series_id, so mqwriter refuses a publish whose payload (or bundle member)
 * carries it — a publisher could otherwise point its rows at another series' labels.
 */
export const SERIES_FIELD = 'tpipe_series'
/** Messages per bundle row at most (the collector refuses larger bundles: a bound on one row's expansion). */
export const BUNDLE_MAX_MESSAGES = 256
/** Serialised payload bytes of the members of one bundle at most (a bundle row stays far below a lease's bytes). */
export const BUNDLE_MAX_BYTES = 128 * 1024

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

/** A message to bundle: its id, its partition key and its payload already serialised (a JSON object). */
export interface BundleMember {
  msg_uuid: string
  key: string
  payloadJson: string
}

export interface BundleRow {
  msg_uuid: string
  partition: number
  key: string
  /** A lone message's payload as it came; a bundle's as UTF-8 bytes (see bundleRows). */
  payloadJson: string | Buffer
  /** How many messages the row carries. */
  members: number
  /** Series to register with the row (QueueRow.series). */
  series?: string[]
}

/** The bundle's id: a version-8 uuid of its members' ids in order (the same members give the same id). */
export function bundleId(ids: readonly string[]): string {
  return hashUuid(`tpipe-bundle\0${ids.join(',')}`)
}

/**
 * Chunks messages, in order, into bundle rows of at most maxMessages messages and maxBytes of payload
 * (a single message larger than maxBytes still goes, alone). A chunk of one message stays a plain row
 * (its own id, key and partition). A bundle's key is its id, its partition partitionOf(id): bundles
 * spread evenly over the partitions whatever GPUs they hold.
 */
export function bundleRows(messages: readonly BundleMember[], maxMessages = BUNDLE_MAX_MESSAGES, maxBytes = BUNDLE_MAX_BYTES): BundleRow[] {
  return chunks(messages, maxMessages, maxBytes, (m) => m.payloadJson.length).map((chunk) => {
    if (chunk.length === 1) {
      const m = chunk[0]!
      return { msg_uuid: m.msg_uuid, key: m.key, partition: partitionOf(m.key), payloadJson: m.payloadJson, members: 1 }
    }
    const id = bundleId(chunk.map((m) => m.msg_uuid))
    const parts = chunk.map((m) => `{"msg_uuid":"${m.msg_uuid}","payload":${m.payloadJson}}`)
    return { msg_uuid: id, key: id, partition: partitionOf(id), payloadJson: bundleBytes(parts.join(',')), members: chunk.length }
  })
}

const BUNDLE_HEAD = Buffer.from(`{"${BUNDLE_FIELD}":[`)
const BUNDLE_TAIL = Buffer.from(']}')

/**
 * A bundle's payload, {"tpipe_bundle":[members]}, as one Buffer of its UTF-8 bytes. A bundle waits in
 * mqwriter's buffer until its group commit: as a string (~100 KB, a rope of the members' texts) it was
 * copied by every young-generation collection it lived through and flattened again when the driver wrote
 * it; as a Buffer it lies outside the JavaScript heap, and the driver sends it as is (a json parameter's
 * binary form is its text).
 */
function bundleBytes(members: string): Buffer {
  const n = Buffer.byteLength(members)
  const out = Buffer.allocUnsafeSlow(BUNDLE_HEAD.length + n + BUNDLE_TAIL.length)
  BUNDLE_HEAD.copy(out, 0)
  out.write(members, BUNDLE_HEAD.length, 'utf8')
  BUNDLE_TAIL.copy(out, BUNDLE_HEAD.length + n)
  return out
}

/** Items in order, in chunks of at most maxCount items and maxSize of size() (one larger item goes alone). */
function chunks<T>(items: readonly T[], maxCount: number, maxSize: number, size: (item: T) => number): T[][] {
  const out: T[][] = []
  let chunk: T[] = []
  let total = 0
  for (const item of items) {
    const n = size(item)
    if (chunk.length > 0 && (chunk.length >= maxCount || total + n > maxSize)) {
      out.push(chunk)
      chunk = []
      total = 0
    }
    chunk.push(item)
    total += n
  }
  if (chunk.length > 0) out.push(chunk)
  return out
}

/**
 * The publish side of bundleRows, for a client of POST /v1/publish (the scraper): messages with their
 * ids, in order, as publish messages of at most maxMessages members each (a lone one stays as it is).
 * mqwriter stores each as one queue row; its id derives from the members' ids, so a retried publish of
 * the same messages is the same bundles.
 */
export function bundleMessages<P>(messages: readonly { key: string; id: string; payload: P }[], maxMessages = BUNDLE_MAX_MESSAGES): { key: string; id: string; payload: P | { [BUNDLE_FIELD]: { msg_uuid: string; payload: P }[] } }[] {
  return chunks(messages, maxMessages, Infinity, () => 0).map((chunk) => {
    if (chunk.length === 1) return chunk[0]!
    const id = bundleId(chunk.map((m) => m.id.toLowerCase()))
    return { key: id, id, payload: { [BUNDLE_FIELD]: chunk.map((m) => ({ msg_uuid: m.id.toLowerCase(), payload: m.payload })) } }
  })
}

/**
 * What a published payload carries: the number of messages (1 for any payload that is not a bundle), or
 * why a bundle payload cannot be expanded (mqwriter refuses such a publish with 400).
 */
export function bundleMembers(payload: unknown): number | string {
  if (!isBundle(payload)) return 1
  const list = (payload as Record<string, unknown>)[BUNDLE_FIELD]
  return bundleProblem(list) ?? (list as unknown[]).length
}

/** Members of a bundle payload (1 for any other payload, or a malformed bundle): what a queue row counts as messages. */
export function bundleSize(payload: unknown): number {
  const n = bundleMembers(payload)
  return typeof n === 'number' ? n : 1
}

/**
 * Where a published payload carries the reserved SERIES_FIELD (itself or one of its bundle's members), as
 * a path below the payload ("" for the payload itself, "/tpipe_bundle/3" for a member); undefined when
 * nowhere. Only mqwriter writes it.
 */
export function reservedSeriesField(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined
  if (Object.hasOwn(payload, SERIES_FIELD)) return ''
  const list = (payload as Record<string, unknown>)[BUNDLE_FIELD]
  if (!Array.isArray(list)) return undefined
  for (let i = 0; i < list.length; i++) {
    const p = (list[i] as { payload?: unknown } | null)?.payload
    if (typeof p === 'object' && p !== null && Object.hasOwn(p, SERIES_FIELD)) return `/${BUNDLE_FIELD}/${i}/payload`
  }
  return undefined
}

/** A bundle payload (whether well-formed or not). */
export function isBundle(payload: unknown): boolean {
  return typeof payload === 'object' && payload !== null && !Array.isArray(payload) && BUNDLE_FIELD in payload
}

/**
 * Leased messages with every bundle replaced by its members (same partition, delivery count and enqueue
 * time as the bundle; key: the member's gpu_uuid when it has one). A malformed bundle stays one message
 * and its reason is returned: the caller dead-letters it whole.
 */
export function expandBundles(messages: readonly LeasedMessage[]): { messages: LeasedMessage[]; malformed: Map<LeasedMessage, string> } {
  const malformed = new Map<LeasedMessage, string>()
  if (!messages.some((m) => isBundle(m.payload))) return { messages: messages as LeasedMessage[], malformed }
  const out: LeasedMessage[] = []
  for (const m of messages) {
    if (!isBundle(m.payload)) {
      out.push(m)
      continue
    }
    // Never throws for one message: whatever goes wrong makes it a malformed bundle (dead-lettered whole).
    try {
      const list = (m.payload as Record<string, unknown>)[BUNDLE_FIELD]
      const why = bundleProblem(list)
      if (why !== undefined) {
        malformed.set(m, why)
        out.push(m)
        continue
      }
      const members: LeasedMessage[] = []
      for (const member of list as { msg_uuid: string; payload: Record<string, unknown> }[]) {
        const gpu = member.payload.gpu_uuid
        members.push({
          msg_uuid: member.msg_uuid,
          key: typeof gpu === 'string' ? gpu : m.key,
          partition: m.partition,
          payload: member.payload,
          enqueued_at: m.enqueued_at,
          delivery_count: m.delivery_count,
        })
      }
      out.push(...members)
    } catch (err) {
      malformed.set(m, `cannot be expanded: ${(err as Error).message}`)
      out.push(m)
    }
  }
  return { messages: out, malformed }
}

/** Why a bundle payload's list cannot be expanded, or undefined when it can. */
function bundleProblem(list: unknown): string | undefined {
  if (!Array.isArray(list)) return `${BUNDLE_FIELD} must be an array`
  if (list.length === 0) return `${BUNDLE_FIELD} is empty`
  if (list.length > BUNDLE_MAX_MESSAGES) return `${BUNDLE_FIELD} holds ${list.length} messages; at most ${BUNDLE_MAX_MESSAGES}`
  for (let i = 0; i < list.length; i++) {
    const member = list[i] as { msg_uuid?: unknown; payload?: unknown } | null
    if (typeof member !== 'object' || member === null) return `${BUNDLE_FIELD}/${i} must be an object`
    if (typeof member.msg_uuid !== 'string' || !UUID_RE.test(member.msg_uuid)) return `${BUNDLE_FIELD}/${i}/msg_uuid must be a uuid`
    if (typeof member.payload !== 'object' || member.payload === null || Array.isArray(member.payload)) return `${BUNDLE_FIELD}/${i}/payload must be an object`
  }
  return undefined
}
