import * as crypto from 'node:crypto'
import { randomFillSync } from 'node:crypto'

// UUIDv7 (RFC 9562): 48-bit Unix ms timestamp, version 7, then random bits. Time-ordered, so the
// msg_uuid index (and the telemetry primary key) grow at the right edge instead of randomly.
// Random bytes come from a pooled buffer: one getrandom call per 512 ids, not one per id.
const POOL_IDS = 512
const pool = Buffer.alloc(16 * POOL_IDS)
let poolOffset = POOL_IDS * 16
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

let lastMs = -1
let seq = 0

export function uuidv7(now = Date.now()): string {
  if (poolOffset >= pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const b = pool.subarray(poolOffset, poolOffset + 16)
  poolOffset += 16
  // Monotonic within one process: ids made in the same millisecond count up in rand_a (12 bits),
  // so FIFO order in a batch matches uuid order; the clock moving back keeps the last ms.
  let ms = now
  if (ms <= lastMs) {
    ms = lastMs
    seq++
    if (seq > 0xfff) {
      ms = ++lastMs
      seq = 0
    }
  } else {
    seq = b[6]! & 0x07 // a random start leaves room to count up
  }
  lastMs = ms
  const hi = Math.floor(ms / 0x1000000)
  const lo = ms % 0x1000000
  b[0] = (hi >>> 16) & 0xff
  b[1] = (hi >>> 8) & 0xff
  b[2] = hi & 0xff
  b[3] = (lo >>> 16) & 0xff
  b[4] = (lo >>> 8) & 0xff
  b[5] = lo & 0xff
  b[6] = 0x70 | ((seq >>> 8) & 0x0f)
  b[7] = seq & 0xff
  b[8] = (b[8]! & 0x3f) | 0x80
  return (
    HEX[b[0]]! + HEX[b[1]]! + HEX[b[2]]! + HEX[b[3]]! + '-' + HEX[b[4]]! + HEX[b[5]]! + '-' + HEX[b[6]]! + HEX[b[7]]! + '-' +
    HEX[b[8]]! + HEX[b[9]!]! + '-' + HEX[b[10]!]! + HEX[b[11]!]! + HEX[b[12]!]! + HEX[b[13]!]! + HEX[b[14]!]! + HEX[b[15]!]!
  )
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

// crypto.hash (Node 20.12+, 21.7+) is a one-shot digest without a Hash object: ~3x cheaper per id than
// createHash(…).update(…).digest() for inputs this small. The same bytes either way.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash
const VARIANT = '89ab89ab89ab89ab' // hex digit → (digit & 0x3) | 0x8

/**
 * A content-derived UUID: version 8 (RFC 9562 "custom", high nibble of byte 6), RFC 9562 variant (top two
 * bits of byte 8 = 10), the rest the SHA-256 of `input`. Sample ids, bundle ids and series ids.
 */
export function hashUuid(input: string): string {
  const x = oneShot ? oneShot('sha256', input, 'hex') : crypto.createHash('sha256').update(input).digest('hex')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-8${x.slice(13, 16)}-${VARIANT[parseInt(x[16]!, 16)]}${x.slice(17, 20)}-${x.slice(20, 32)}`
}

/**
 * The same text as one flat string, for strings a cache keeps. A template literal or `+=` gives V8 a rope
 * (cons nodes over the parts, and a slice keeps its whole parent): hashUuid's 36 characters take ~280 heap
 * bytes that way, ~56 flat; a remote_write series template ~1,880 bytes, ~1,510 flat.
 */
export function flatString(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string
}

/** Heap bytes of a string in V8: one per character when all are Latin-1, else two. */
export function textBytes(s: string): number {
  return /[\u0100-\uffff]/.test(s) ? 2 * s.length : s.length
}
