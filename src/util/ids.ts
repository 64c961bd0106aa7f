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
