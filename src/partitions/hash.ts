/** The number of partitions. Fixed: changing it would re-home every key already in the queue. */
export const PARTITION_COUNT = 256

/**
 * partition(key) = fmix32(fnv1a32(utf8(key))) mod 256.
 *
 * FNV-1a is cheap and stable across languages; its low bits mix poorly for keys that differ only in
 * their last characters (GPU uuids are hex strings of one shape), so the murmur3 finalizer (fmix32)
 * spreads them before we take the low byte. Any producer in any language can reproduce this.
 */
export function fnv1a32(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i)
    // UTF-8 encode on the fly so the hash is defined over bytes, not UTF-16 code units.
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193)
      continue
    }
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < key.length) {
      const lo = key.charCodeAt(i + 1)
      if (lo >= 0xdc00 && lo < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00)
        i++
      }
    }
    const bytes =
      c < 0x800
        ? [0xc0 | (c >> 6), 0x80 | (c & 0x3f)]
        : c < 0x10000
          ? [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
          : [0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193)
  }
  return h >>> 0
}

export function fmix32(x: number): number {
  let h = x >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

export function partitionOf(key: string): number {
  return fmix32(fnv1a32(key)) % PARTITION_COUNT
}
