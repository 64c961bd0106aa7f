// Writes the project's sample DCGM exporter CSV (charts/streamer/files/telemetry.csv): the real export's
// columns, metric names, value ranges and labels_raw form, for invented hosts with stable GPU uuids.
// Deterministic (seeded), so regenerating it gives the same file unless the options change.
//   npx tsx scripts/generate-sample-csv.ts [--out PATH] [--hosts 12] [--scrapes 2] [--start 2025-07-18T20:42:34Z]
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

export const HEADER = ['timestamp', 'metric_name', 'gpu_id', 'device', 'uuid', 'modelName', 'Hostname', 'container', 'pod', 'namespace', 'value', 'labels_raw'] as const
export const MODEL = 'NVIDIA H100 80GB HBM3'
const DRIVER = '535.129.03'
const FB_TOTAL_MIB = 81559

export interface SampleOptions {
  hosts: number
  gpusPerHost: number
  scrapes: number
  start: Date
  scrapeIntervalSeconds: number
  seed: number
}

export const DEFAULTS: SampleOptions = { hosts: 12, gpusPerHost: 8, scrapes: 2, start: new Date('2025-07-18T20:42:34Z'), scrapeIntervalSeconds: 30, seed: 20250718 }

// mulberry32: tiny, seedable, good enough for plausible numbers.
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function gpuUuid(host: string, gpu: number): string {
  const h = createHash('sha1').update(`${host}/${gpu}`).digest('hex')
  return `GPU-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

const q = (s: string) => `"${s.replace(/"/g, '""')}"`
const fmt = (n: number, decimals: number) => (decimals === 0 ? String(Math.round(n)) : n.toFixed(decimals))

/** The CSV text. Each GPU gets a busy/idle state per scrape so that related metrics agree. */
export function generateSampleCsv(opts: Partial<SampleOptions> = {}): string {
  const o = { ...DEFAULTS, ...opts }
  const rand = rng(o.seed)
  const lines: string[] = [HEADER.join(',')]
  const hosts = Array.from({ length: o.hosts }, (_, i) => `tpipe-dgx-${String(i + 1).padStart(3, '0')}`)
  for (let s = 0; s < o.scrapes; s++) {
    const ts = new Date(o.start.getTime() + s * o.scrapeIntervalSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
    const perGpu = hosts.flatMap((host) =>
      Array.from({ length: o.gpusPerHost }, (_, gpu) => {
        const busy = rand() < 0.6
        const util = busy ? 60 + rand() * 40 : rand() < 0.8 ? 0 : rand() * 10
        const fbUsed = busy ? 20000 + rand() * 57000 : 4 + rand() * 600
        return { host, gpu, util, fbUsed, busy }
      }),
    )
    const metrics: [string, (g: (typeof perGpu)[number]) => number, number][] = [
      ['DCGM_FI_DEV_SM_CLOCK', (g) => (g.busy ? 1755 + rand() * 225 : 345), 0],
      ['DCGM_FI_DEV_MEM_CLOCK', () => 2619, 0],
      ['DCGM_FI_DEV_GPU_TEMP', (g) => (g.busy ? 45 + rand() * 35 : 26 + rand() * 12), 0],
      ['DCGM_FI_DEV_POWER_USAGE', (g) => (g.busy ? 300 + rand() * 389 : 66 + rand() * 50), 3],
      ['DCGM_FI_DEV_GPU_UTIL', (g) => g.util, 0],
      ['DCGM_FI_DEV_MEM_COPY_UTIL', (g) => (g.busy ? rand() * 80 : 0), 0],
      ['DCGM_FI_DEV_ENC_UTIL', () => 0, 0],
      ['DCGM_FI_DEV_DEC_UTIL', () => 0, 0],
      ['DCGM_FI_DEV_FB_FREE', (g) => FB_TOTAL_MIB - 556 - g.fbUsed, 0],
      ['DCGM_FI_DEV_FB_USED', (g) => g.fbUsed, 0],
    ]
    for (const [metric, value, decimals] of metrics) {
      for (const g of perGpu) {
        const uuid = gpuUuid(g.host, g.gpu)
        const device = `nvidia${g.gpu}`
        const labels = [
          `DCGM_FI_DRIVER_VERSION="${DRIVER}"`,
          `Hostname="${g.host}"`,
          `UUID="${uuid}"`,
          `__name__="${metric}"`,
          `device="${device}"`,
          `gpu="${g.gpu}"`,
          `instance="${g.host}:9400"`,
          `job="dgx_dcgm_exporter"`,
          `modelName="${MODEL}"`,
        ].join(',')
        const fields = [ts, metric, String(g.gpu), device, uuid, MODEL, g.host, '', '', '', fmt(value(g), decimals), labels]
        lines.push(fields.map(q).join(','))
      }
    }
  }
  return lines.join('\n') + '\n'
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      hosts: { type: 'string' },
      scrapes: { type: 'string' },
      start: { type: 'string' },
    },
  })
  const root = join(dirname(fileURLToPath(import.meta.url)), '..')
  // dist/scripts → ../.. ; scripts → ..
  const repo = root.endsWith('/dist') ? join(root, '..') : root
  const out = values.out ?? join(repo, 'charts', 'streamer', 'files', 'telemetry.csv')
  const text = generateSampleCsv({
    ...(values.hosts ? { hosts: Number(values.hosts) } : {}),
    ...(values.scrapes ? { scrapes: Number(values.scrapes) } : {}),
    ...(values.start ? { start: new Date(values.start) } : {}),
  })
  writeFileSync(out, text)
  console.log(`wrote ${out}: ${text.split('\n').length - 2} rows, ${Buffer.byteLength(text)} bytes`)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main()
