import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fnv1a32, partitionOf, PARTITION_COUNT } from './hash.js'
import { plan, replicaNames } from './plan.js'

const REAL_CSV = join(process.cwd(), '..', 'shared', 'data', 'dcgm_metrics_20250718_134233.csv')

function realGpuUuids(): string[] {
  const lines = readFileSync(REAL_CSV, 'utf8').split(/\r?\n/).slice(1).filter(Boolean)
  // uuid is the 5th quoted field; the file quotes every field.
  return [...new Set(lines.map((l) => l.split('","')[4]!))]
}

describe('partitionOf', () => {
  it('matches the published FNV-1a test vectors before mixing', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5)
    expect(fnv1a32('a')).toBe(0xe40c292c)
    expect(fnv1a32('foobar')).toBe(0xbf9cf968)
  })

  it('hashes UTF-8 bytes, not UTF-16 code units', () => {
    // "é" is C3 A9 in UTF-8; as one UTF-16 unit it would hash differently.
    let h = 0x811c9dc5
    for (const b of [0xc3, 0xa9]) h = Math.imul(h ^ b, 0x01000193)
    expect(fnv1a32('é')).toBe(h >>> 0)
    expect(fnv1a32('😀')).not.toBe(fnv1a32('\ud83d'))
  })

  it('is deterministic and in range', () => {
    for (const k of ['GPU-5fd4f087-86f3-7a43-b711-4771313afc50', 'x', '', 'ключ']) {
      const p = partitionOf(k)
      expect(p).toBe(partitionOf(k))
      expect(p).toBeGreaterThanOrEqual(0)
      expect(p).toBeLessThan(PARTITION_COUNT)
    }
  })

  it('pins known values so a change of hash cannot slip through', () => {
    expect(partitionOf('GPU-5fd4f087-86f3-7a43-b711-4771313afc50')).toMatchInlineSnapshot(`195`)
    expect(partitionOf('host-01')).toMatchInlineSnapshot(`58`)
  })

  it('spreads the 247 real GPU uuids so 4 equal ranges each get 20–35%', () => {
    const uuids = realGpuUuids()
    expect(uuids).toHaveLength(247)
    const ranges = Object.values(plan(replicaNames('r', 4)))
    for (const r of ranges) {
      const n = uuids.filter((u) => {
        const p = partitionOf(u)
        return p >= r.start && p <= r.end
      }).length
      const share = n / uuids.length
      expect(share).toBeGreaterThanOrEqual(0.2)
      expect(share).toBeLessThanOrEqual(0.35)
    }
    // and uses many partitions, unlike hash(gpu_id) which would use 8
    expect(new Set(uuids.map(partitionOf)).size).toBeGreaterThan(150)
  })
})
