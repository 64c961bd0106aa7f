// The collector's persist statement with labels in every row vs labels once per series (telemetry_series),
// timed in one session, interleaved, each statement rolled back: 3,000 remote_write-shaped rows (40,000 series
// of dcgm-exporter's labels, as bench/rw-load.ts sends), serialised by the collector's own code. Prints one
// JSON line per round. A scratch database `tpipe_series_stmt` is made (and dropped) on the server of
// DATABASE_URL (or TPIPE_HOME's embedded PostgreSQL, started if need be).
//   node --import tsx bench/series-statement.ts [rounds]
import pg from 'pg'
import { serialise } from '../src/collector/persist.js'
import { persistBatch, type TelemetryRowJson } from '../src/collector/sql.js'
import { loadConfig } from '../src/config/index.js'
import { migrate, useDatabase } from '../src/db/index.js'
import { SeriesTemplate } from '../src/scrape/dcgm.js'
import { SeriesCache } from '../src/telemetry/series.js'

const ROWS = 3000
const METRICS = ['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_MEM_COPY_UTIL', 'DCGM_FI_DEV_GPU_TEMP', 'DCGM_FI_DEV_POWER_USAGE', 'DCGM_FI_DEV_SM_CLOCK']

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 4)
  const db = await useDatabase(loadConfig({}, process.env))
  const adminUrl = db.url
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query('DROP DATABASE IF EXISTS tpipe_series_stmt')
  await admin.query('CREATE DATABASE tpipe_series_stmt')
  const u = new URL(adminUrl)
  u.pathname = '/tpipe_series_stmt'
  const url = u.toString()
  const c = new pg.Client({ connectionString: url })
  try {
    await migrate(url, 'up')
    await c.connect()
    const templates: SeriesTemplate[] = []
    for (let n = 0; n < 500; n++) {
      for (let g = 0; g < 8; g++) {
        for (const m of METRICS) {
          const t = SeriesTemplate.of(m, { DCGM_FI_DRIVER_VERSION: '535.129.03', Hostname: `bench-node-${n}`, UUID: `GPU-${n.toString(16).padStart(8, '0')}-0000-4000-8000-${g.toString(16).padStart(12, '0')}`, device: `nvidia${g}`, gpu: String(g), instance: `10.0.${n >> 8}.${n & 255}:9400`, job: 'dcgm-exporter', modelName: 'NVIDIA H100 80GB HBM3' }, '')
          if (typeof t !== 'string') templates.push(t)
        }
      }
    }
    const base = Date.now() - 3_600_000
    const rows = (k: number): TelemetryRowJson[] =>
      Array.from({ length: ROWS }, (_, i) => {
        const j = k * ROWS + i
        const t = templates[j % templates.length]!
        const ts = base + Math.floor(j / templates.length) * 15_000
        return { ...(JSON.parse(t.payloadJson((i % 100) + 0.5, ts)) as Record<string, unknown>), msg_uuid: t.id(ts) }
      })
    // A running collector has written every series once: do that first, for real.
    const warm = new SeriesCache(1 << 26)
    for (let k = 0; k * ROWS < templates.length; k++) {
      const s = serialise(rows(k), [], new Map(), warm)
      await c.query(persistBatch(s.rows, s.dead, s.series))
      warm.committed(s.newSeries, Date.now())
    }
    const inline = new SeriesCache(0)
    const time = async (cache: SeriesCache, from: number) => {
      const ms: number[] = []
      let bytes = 0
      for (let k = from; k < from + 12; k++) {
        const s = serialise(rows(k), [], new Map(), cache)
        const q = persistBatch(s.rows, s.dead, s.series)
        bytes = q.values.reduce<number>((n, v) => n + String(v).length, 0)
        await c.query('BEGIN')
        const t0 = performance.now()
        await c.query(q)
        ms.push(performance.now() - t0)
        await c.query('ROLLBACK')
      }
      ms.sort((a, b) => a - b)
      return { medianMs: Math.round(ms[6]! * 10) / 10, minMs: Math.round(ms[0]! * 10) / 10, jsonBytes: bytes }
    }
    for (let r = 0; r < rounds; r++) {
      const first = r % 2 === 0 ? inline : warm
      const a = await time(first, 100 + r * 24)
      const b = await time(first === inline ? warm : inline, 112 + r * 24)
      const [labelsInRows, seriesIds] = first === inline ? [a, b] : [b, a]
      process.stdout.write(JSON.stringify({ round: r + 1, labelsInRows, seriesIds }) + '\n')
    }
  } finally {
    await c.end().catch(() => {})
    await admin.query('DROP DATABASE IF EXISTS tpipe_series_stmt').catch(() => {})
    await admin.end()
    await db.release()
  }
}

void main()
