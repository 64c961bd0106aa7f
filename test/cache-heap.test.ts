// "Memory is bounded in bytes": the series caches' bounds count what the heap holds. Runs
// bench/series-cache-heap.ts (its own node, with --expose-gc, on the 40,000-series fleet) and holds each
// cache's estimate to within 10% of the heap its entries take. Before, mqwriter's templates counted 1,724
// bytes of 2,244 and the collector's label sets 423 of 785.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))

describe('series caches bounded in bytes', () => {
  it("count within 10% of the heap a series takes (mqwriter's remote_write templates, the collector's label sets)", () => {
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/series-cache-heap.ts', '--json'], { cwd: root, encoding: 'utf8', timeout: 120_000 })
    const r = JSON.parse(out) as Record<'mapper' | 'collector', { estimated: number; heap: number }> & { series: number }
    expect(r.series).toBe(40_000)
    for (const cache of ['mapper', 'collector'] as const) {
      const { estimated, heap } = r[cache]
      expect({ cache, within: Math.abs(estimated - heap) <= 0.1 * heap, estimated, heap }).toMatchObject({ cache, within: true })
    }
  }, 120_000)
})
