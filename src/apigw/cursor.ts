// The opaque next_cursor: base64url of the last row's (ts, msg_uuid). Clients must not build it.
import { UUID_RE } from '../mqwriter/uuidv7.js'

export const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/

export function isRfc3339(s: string): boolean {
  return RFC3339.test(s) && !Number.isNaN(Date.parse(s))
}

export function encodeCursor(ts: string, msgUuid: string): string {
  return Buffer.from(JSON.stringify([ts, msgUuid])).toString('base64url')
}

/** The position after which the next page starts, or undefined when the text is not a cursor we made. */
export function decodeCursor(cursor: string): { ts: string; msgUuid: string } | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return undefined
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (!Array.isArray(v) || v.length !== 2) return undefined
    const [ts, msgUuid] = v as unknown[]
    if (typeof ts !== 'string' || typeof msgUuid !== 'string' || !isRfc3339(ts) || !UUID_RE.test(msgUuid)) return undefined
    return { ts, msgUuid }
  } catch {
    return undefined
  }
}
