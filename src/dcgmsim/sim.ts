// dcgm-sim: simulated NVIDIA dcgm-exporter nodes for dev, tests, demos and the scrape benchmark.
// Owns the model (GPUs per node, their series, values over time) and its rendering in exactly the
// exposition text dcgm-exporter serves on :9400/metrics. Must not touch the database or mqwriter.
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { parse } from 'csv-parse/sync'
import { mapColumns, toPayload } from '../streamer/columns.js'

/** HELP text and TYPE of the fields dcgm-exporter exports by default (its default-counters.csv). */
export const DCGM_FIELDS: Readonly<Record<string, { type: 'gauge' | 'counter'; help: string }>> = {
  DCGM_FI_DEV_SM_CLOCK: { type: 'gauge', help: 'SM clock frequency (in MHz).' },
  DCGM_FI_DEV_MEM_CLOCK: { type: 'gauge', help: 'Memory clock frequency (in MHz).' },
  DCGM_FI_DEV_MEMORY_TEMP: { type: 'gauge', help: 'Memory temperature (in C).' },
  DCGM_FI_DEV_GPU_TEMP: { type: 'gauge', help: 'GPU temperature (in C).' },
  DCGM_FI_DEV_POWER_USAGE: { type: 'gauge', help: 'Power draw (in W).' },
  DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION: { type: 'counter', help: 'Total energy consumption since boot (in mJ).' },
  DCGM_FI_DEV_PCIE_REPLAY_COUNTER: { type: 'counter', help: 'Total number of PCIe retries.' },
  DCGM_FI_DEV_GPU_UTIL: { type: 'gauge', help: 'GPU utilization (in %).' },
  DCGM_FI_DEV_MEM_COPY_UTIL: { type: 'gauge', help: 'Memory utilization (in %).' },
  DCGM_FI_DEV_ENC_UTIL: { type: 'gauge', help: 'Encoder utilization (in %).' },
  DCGM_FI_DEV_DEC_UTIL: { type: 'gauge', help: 'Decoder utilization (in %).' },
  DCGM_FI_DEV_XID_ERRORS: { type: 'gauge', help: 'Value of the last XID error encountered.' },
  DCGM_FI_DEV_FB_FREE: { type: 'gauge', help: 'Framebuffer memory free (in MiB).' },
  DCGM_FI_DEV_FB_USED: { type: 'gauge', help: 'Framebuffer memory used (in MiB).' },
  DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL: { type: 'counter', help: 'Total number of NVLink bandwidth counters for all lanes.' },
}

export interface SimGpu {
  gpu: number
  uuid: string
  device: string
  model: string
  /** metric → the values the CSV holds for this GPU, in file order (frames). */
  series: Map<string, number[]>
  driver: string | undefined
}

export interface SimNode {
  hostname: string
  gpus: SimGpu[]
}

export interface SimOptions {
  /** Simulated nodes; beyond the CSV's hosts, hosts are reused with new names and GPU uuids. */
  nodes: number
  /** Cap the GPUs of each node (the CSV's hosts have 8); undefined keeps them all. */
  gpusPerNode?: number | undefined
  /** Seconds per CSV frame: values walk through the CSV's successive samples at this pace. */
  frameSeconds?: number
}

interface CsvGpu extends Omit<SimGpu, 'series'> {
  hostname: string
  series: Map<string, number[]>
}

/** Reads a DCGM CSV (the streamer's format) into hosts → GPUs → series. Bad rows are skipped. */
export function loadCsv(file: string): { hostname: string; gpus: SimGpu[] }[] {
  const records = parse(readFileSync(file), { bom: true, relax_column_count: true, skip_empty_lines: true }) as string[][]
  const [header, ...rows] = records
  if (!header) throw new Error(`${file} is empty`)
  const map = mapColumns(header)
  const byUuid = new Map<string, CsvGpu>()
  for (const rec of rows) {
    const r = toPayload(rec, map, new Date(0).toISOString())
    if ('error' in r) continue
    const p = r.payload
    let g = byUuid.get(p.gpu_uuid)
    if (!g) {
      g = { hostname: p.hostname, gpu: p.gpu_id, uuid: p.gpu_uuid, device: p.device, model: p.model_name, series: new Map(), driver: p.labels?.DCGM_FI_DRIVER_VERSION }
      byUuid.set(p.gpu_uuid, g)
    }
    const s = g.series.get(p.metric_name)
    if (s) s.push(p.value)
    else g.series.set(p.metric_name, [p.value])
  }
  const hosts = new Map<string, SimGpu[]>()
  for (const g of byUuid.values()) {
    const { hostname, ...gpu } = g
    const list = hosts.get(hostname)
    if (list) list.push(gpu)
    else hosts.set(hostname, [gpu])
  }
  if (hosts.size === 0) throw new Error(`${file} has no usable rows`)
  return [...hosts].map(([hostname, gpus]) => ({ hostname, gpus: gpus.sort((a, b) => a.gpu - b.gpu) }))
}

/** A stable, made-up GPU uuid for copy `k` of a real one. */
function cloneUuid(uuid: string, k: number): string {
  const x = createHash('sha256').update(`${uuid}#${k}`).digest('hex')
  return `GPU-${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`
}

export function buildNodes(hosts: readonly { hostname: string; gpus: SimGpu[] }[], opts: SimOptions): SimNode[] {
  const nodes: SimNode[] = []
  for (let i = 0; i < opts.nodes; i++) {
    const h = hosts[i % hosts.length]!
    const k = Math.floor(i / hosts.length)
    const gpus = (opts.gpusPerNode === undefined ? h.gpus : h.gpus.slice(0, opts.gpusPerNode)).map((g) => (k === 0 ? g : { ...g, uuid: cloneUuid(g.uuid, k) }))
    nodes.push({ hostname: k === 0 ? h.hostname : `${h.hostname}-sim${k}`, gpus })
  }
  return nodes
}

/** Cheap deterministic phase in [0, 2π) per series, so GPUs do not move in lockstep. */
function phase(s: string): number {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return ((h >>> 0) / 2 ** 32) * 2 * Math.PI
}

/**
 * The value of one series at time t (ms): the CSV's samples in turn (one frame per frameSeconds,
 * linearly interpolated), plus a slow ±5 % wave so values move even with a one-frame CSV. Percentages
 * stay in 0..100, counters only grow, integers stay integers (dcgm-exporter prints most fields as such).
 */
export function valueAt(frames: readonly number[], metric: string, seriesKey: string, tMs: number, frameSeconds: number): number {
  const ph = phase(seriesKey)
  const pos = tMs / 1000 / frameSeconds
  const i = Math.floor(pos)
  const a = frames[((i % frames.length) + frames.length) % frames.length]!
  const b = frames[(((i + 1) % frames.length) + frames.length) % frames.length]!
  const base = a + (b - a) * (pos - i)
  const integral = frames.every(Number.isInteger)
  if (DCGM_FIELDS[metric]?.type === 'counter') {
    // Monotonic: the CSV value plus a steady rate derived from it.
    const rate = Math.max(1, Math.abs(frames[0]!) / 1e6)
    const v = frames[0]! + (rate * tMs) / 1000
    return integral ? Math.floor(v) : v
  }
  let v = base * (1 + 0.05 * Math.sin((2 * Math.PI * tMs) / 60_000 + ph))
  if (base === 0) v = 0
  if (metric.endsWith('_UTIL')) v = Math.min(100, Math.max(0, v))
  return integral ? Math.round(v) : Math.round(v * 1000) / 1000
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

/** dcgm-exporter's numbers: integers without a fraction, others in Go's %g-like shortest form. */
function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : String(v)
}

/**
 * One node's /metrics body as dcgm-exporter writes it: per field a HELP and a TYPE line, then one line
 * per GPU with the labels in dcgm-exporter's order (gpu, UUID, device, modelName, Hostname, container,
 * namespace, pod, then DCGM_FI_DRIVER_VERSION when known). No timestamps: dcgm-exporter sends none.
 */
export function renderNode(node: SimNode, tMs: number, frameSeconds = 30): string {
  const metrics = new Set<string>()
  for (const g of node.gpus) for (const m of g.series.keys()) metrics.add(m)
  const out: string[] = []
  for (const m of metrics) {
    const f = DCGM_FIELDS[m]
    out.push(`# HELP ${m} ${f?.help ?? m}`, `# TYPE ${m} ${f?.type ?? 'gauge'}`)
    for (const g of node.gpus) {
      const frames = g.series.get(m)
      if (!frames) continue
      const driver = g.driver === undefined ? '' : `,DCGM_FI_DRIVER_VERSION="${esc(g.driver)}"`
      const labels = `gpu="${g.gpu}",UUID="${esc(g.uuid)}",device="${esc(g.device)}",modelName="${esc(g.model)}",Hostname="${esc(node.hostname)}",container="",namespace="",pod=""${driver}`
      out.push(`${m}{${labels}} ${fmt(valueAt(frames, m, `${g.uuid}/${m}`, tMs, frameSeconds))}`)
    }
  }
  return out.join('\n') + '\n'
}
