// Telemetry for view tests (dashboard, Grafana SQL, terminal plots): the real DCGM CSV's one scrape of
// 247 GPUs × 10 metrics, re-stamped at chosen times with values moved along a slow wave per GPU (so
// trends are not flat), written through the collector's own persist statement — the ingest path's
// triggers (gpus, latest values, rollups) run as they do in production.
import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import { columnsOf } from '../../src/collector/columns.js'
import { persistBatch, type TelemetryRowJson } from '../../src/collector/sql.js'
import type { Pool } from '../../src/db/pool.js'
import { deriveOnce } from '../../src/telemetry/derive.js'
import { mapColumns, toPayload } from '../../src/telemetry/csv.js'
import type { TelemetryPayload } from '../../src/telemetry/payload.js'
import { PACKAGE_ROOT } from '../../src/paths.js'

const CSV = join(PACKAGE_ROOT, '..', 'shared', 'data', 'dcgm_metrics_20250718_134233.csv')
const CSV_FALLBACK = join(PACKAGE_ROOT, 'charts', 'streamer', 'files', 'telemetry.csv')

/** One scrape of every GPU of the CSV (TPIPE_DCGM_CSV, else the shared export of 247 GPUs, else the chart's copy). */
export function csvScrape(): TelemetryPayload[] {
  const file = process.env.TPIPE_DCGM_CSV ?? (existsSync(CSV) ? CSV : CSV_FALLBACK)
  const text = readFileSync(file, 'utf8')
  const [header, ...records] = parse(text, { relax_column_count: true }) as string[][]
  const map = mapColumns(header!)
  const out: TelemetryPayload[] = []
  for (const r of records) {
    const p = toPayload(r, map, new Date().toISOString())
    if ('payload' in p) out.push(p.payload)
  }
  return out
}

/** The scrape at `ts`, number k of a series; `override` may pin a value (a marker a test looks for). */
export function scrapeAt(base: readonly TelemetryPayload[], ts: Date, k: number, override?: (p: TelemetryPayload) => number | undefined): TelemetryRowJson[] {
  const gpuIndex = new Map<string, number>()
  return base.map((p) => {
    if (!gpuIndex.has(p.gpu_uuid)) gpuIndex.set(p.gpu_uuid, gpuIndex.size)
    const wave = Math.sin(k / 6 + gpuIndex.get(p.gpu_uuid)!)
    const pct = p.metric_name.endsWith('_UTIL')
    const moved = pct ? Math.min(100, Math.max(0, p.value + 20 * wave)) : p.value * (1 + 0.05 * wave)
    const value = override?.(p) ?? Math.round(moved * 10) / 10
    return { ...p, ts: ts.toISOString(), value, msg_uuid: randomUUID() }
  })
}

/**
 * Writes rows the way the collector does: one persist statement per 2,000 rows, then one run of the
 * collector's derive job (latest values and per-minute rollups), without its quiet period.
 */
export async function persist(pool: Pool, rows: readonly TelemetryRowJson[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 2000) await pool.query(persistBatch(columnsOf(rows.slice(i, i + 2000)), []))
  await deriveOnce(pool, { quietSeconds: 0 })
}
