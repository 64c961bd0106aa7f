import { describe, expect, it } from 'vitest'
import { parseExposition } from '../scrape/parse.js'
import { buildNodes, loadCsv, renderNode, valueAt } from './sim.js'

const CSV = new URL('../../charts/streamer/files/telemetry.csv', import.meta.url).pathname

describe('dcgm-sim model', () => {
  const hosts = loadCsv(CSV)

  it('reads the shipped sample: hosts of 8 GPUs with 10 metrics each', () => {
    expect(hosts.length).toBe(12)
    expect(hosts.every((h) => h.gpus.length === 8)).toBe(true)
    expect(hosts[0]!.gpus[0]!.series.size).toBe(10)
  })

  it('renders dcgm-exporter text that parses back into every series of the node', () => {
    const [node] = buildNodes(hosts, { nodes: 1 })
    const text = renderNode(node!, Date.parse('2026-11-30T07:00:00Z'))
    expect(text).toMatch(/^# HELP DCGM_FI_DEV_\w+ .+\n# TYPE DCGM_FI_DEV_\w+ (gauge|counter)\n/)
    expect(text).toMatch(/\{gpu="0",UUID="GPU-[0-9a-f-]+",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="[^"]+",container="",namespace="",pod="",DCGM_FI_DRIVER_VERSION="535.129.03"\} \d/)
    const r = parseExposition(text)
    expect(r.errors).toEqual([])
    expect(r.samples).toHaveLength(80)
    expect(new Set(r.samples.map((s) => s.labels.Hostname))).toEqual(new Set([node!.hostname]))
    expect(Object.keys(r.types)).toHaveLength(10)
  })

  it('simulates more nodes than the CSV has, with new names and GPU uuids', () => {
    const nodes = buildNodes(hosts, { nodes: 30, gpusPerNode: 4 })
    expect(new Set(nodes.map((n) => n.hostname)).size).toBe(30)
    const uuids = nodes.flatMap((n) => n.gpus.map((g) => g.uuid))
    expect(new Set(uuids).size).toBe(120)
    expect(uuids.every((u) => /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(u))).toBe(true)
  })

  it('moves values over time, keeps percentages in range and counters growing', () => {
    const frames = [40, 60]
    const seen = new Set<number>()
    for (let t = 0; t < 120_000; t += 5_000) {
      const v = valueAt(frames, 'DCGM_FI_DEV_GPU_UTIL', 'g/u', t, 30)
      expect(v).toBeGreaterThanOrEqual(0)
      expect(v).toBeLessThanOrEqual(100)
      seen.add(v)
    }
    expect(seen.size).toBeGreaterThan(5)
    expect(valueAt([100], 'DCGM_FI_DEV_GPU_UTIL', 'g/u', 15_000, 30)).toBeLessThanOrEqual(100)
    const c1 = valueAt([5e9], 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'g/e', 10_000, 30)
    const c2 = valueAt([5e9], 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'g/e', 20_000, 30)
    expect(c2).toBeGreaterThan(c1)
  })
})
