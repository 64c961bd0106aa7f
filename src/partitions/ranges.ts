import { PARTITION_COUNT } from './hash.js'

/**
 * Parses "0-63,128-191,200" into a sorted, de-duplicated list of partitions.
 * Throws with the offending part; an empty string means no partitions.
 */
export function parsePartitions(spec: string): number[] {
  const out = new Set<number>()
  const text = spec.trim()
  if (text === '' || text === 'none') return []
  for (const part of text.split(',')) {
    const p = part.trim()
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(p)
    if (!m) throw new Error(`bad partition range ${JSON.stringify(p)}: expected N or N-M, e.g. 0-63,128-191`)
    const lo = Number(m[1])
    const hi = m[2] === undefined ? lo : Number(m[2])
    if (lo > hi) throw new Error(`bad partition range ${JSON.stringify(p)}: start is after end`)
    if (hi >= PARTITION_COUNT) throw new Error(`bad partition range ${JSON.stringify(p)}: partitions are 0-${PARTITION_COUNT - 1}`)
    for (let i = lo; i <= hi; i++) out.add(i)
  }
  return [...out].sort((a, b) => a - b)
}

/** Formats partitions as compact ranges: [0,1,2,5] → "0-2,5"; [] → "". */
export function formatPartitions(partitions: Iterable<number>): string {
  const sorted = [...new Set(partitions)].sort((a, b) => a - b)
  const parts: string[] = []
  let i = 0
  while (i < sorted.length) {
    const start = sorted[i]!
    let end = start
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) {
      end++
      i++
    }
    parts.push(start === end ? `${start}` : `${start}-${end}`)
    i++
  }
  return parts.join(',')
}
