// The opaque next_cursor: base64url of the last row's (ts, msg_uuid). Clients must not build it.
import { UUID_RE } from '../util/ids.js'

export const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))$/

/**
 * A full RFC 3339 date-time whose fields are in range. Date.parse alone is not enough: it turns
 * 2025-02-30 into March 2, which PostgreSQL would refuse (and the request would fail with a 500).
 */
export function isRfc3339(s: string): boolean {
  const m = RFC3339.exec(s)
  if (!m) return false
  const [y, mo, d, h, mi, sec, , oh, om] = m.slice(1).map((v) => (v === undefined || v.startsWith('.') ? 0 : Number(v)))
  const daysInMonth = new Date(Date.UTC(y!, mo!, 0)).getUTCDate()
  // PostgreSQL refuses offsets beyond ±15:59 (SQLSTATE 22009): so must we, in a parameter or a cursor.
  return mo! >= 1 && mo! <= 12 && d! >= 1 && d! <= daysInMonth && h! <= 23 && mi! <= 59 && sec! <= 59 && oh! <= 15 && om! <= 59
}

/** A newest-first page's cursor carries its direction, so the next page goes on the same way. */
export function encodeCursor(ts: string, msgUuid: string, desc = false): string {
  return Buffer.from(JSON.stringify(desc ? [ts, msgUuid, 'desc'] : [ts, msgUuid])).toString('base64url')
}

/** The position after which the next page starts, or undefined when the text is not a cursor we made. */
export function decodeCursor(cursor: string): { ts: string; msgUuid: string; desc: boolean } | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return undefined
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (!Array.isArray(v) || v.length < 2 || v.length > 3 || (v.length === 3 && v[2] !== 'desc')) return undefined
    const [ts, msgUuid] = v as unknown[]
    if (typeof ts !== 'string' || typeof msgUuid !== 'string' || !isRfc3339(ts) || !UUID_RE.test(msgUuid)) return undefined
    return { ts, msgUuid, desc: v.length === 3 }
  } catch {
    return undefined
  }
}
