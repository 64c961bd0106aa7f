// The Grafana dashboard shipped with the charts (charts/telemetry-pipeline/dashboards/tpipe.json, loaded
// by Grafana's dashboard sidecar from a ConfigMap labelled grafana_dashboard: "1"). Generated from this
// file so its SQL and PromQL can be tested: src/grafana/dashboard.int.test.ts runs every panel's SQL on a
// real PostgreSQL with Grafana's macros expanded and checks every PromQL metric name against the names
// the services register. Regenerate with `npx tsx scripts/grafana-dashboard.ts`.
//
// Telemetry panels read the rollups — hourly (telemetry_1h) when Grafana's interval is whole hours, else
// per-minute (telemetry_1m) — and the latest-value table, never a scan of raw telemetry across the fleet,
// so a 30-day range stays cheap; pipeline health comes from Prometheus.
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../paths.js'
import { KEY_METRICS, metricInfo } from '../web/metrics.js'

export const DASHBOARD_FILE = join(PACKAGE_ROOT, 'charts', 'telemetry-pipeline', 'dashboards', 'tpipe.json')

export const DASHBOARD_UID = 'tpipe-fleet'
/** The data sources `tpipe up --grafana` provisions (uids); the dashboard's data source variables default to them. */
export const PG_UID = 'tpipe-postgres'
export const PROM_UID = 'tpipe-prometheus'
export const PG_TYPE = 'grafana-postgresql-datasource'

const PG = { type: PG_TYPE, uid: '${pg}' }
const PROM = { type: 'prometheus', uid: '${prom}' }

export interface SqlTarget {
  refId: string
  datasource: typeof PG
  format: 'time_series' | 'table'
  rawQuery: true
  editorMode: 'code'
  rawSql: string
}
export interface PromTarget {
  refId: string
  datasource: typeof PROM
  expr: string
  legendFormat: string
}
export interface Panel {
  id: number
  type: string
  title: string
  description?: string
  gridPos: { x: number; y: number; w: number; h: number }
  datasource?: typeof PG | typeof PROM
  targets?: (SqlTarget | PromTarget)[]
  interval?: string
  fieldConfig?: unknown
  options?: unknown
  collapsed?: boolean
  panels?: Panel[]
}

const UNIT: Record<string, string> = { '%': 'percent', MiB: 'decmbytes', '°C': 'celsius', W: 'watt', MHz: 'rothz' }

function grafanaUnit(metric: string): string {
  const u = metricInfo(metric).unit
  // MHz: Grafana has "hertz" with SI prefixes; values are MHz, so use a suffix instead.
  return u === 'MHz' ? 'suffix: MHz' : (UNIT[u] ?? 'short')
}

function sql(refId: string, rawSql: string, format: SqlTarget['format'] = 'time_series'): SqlTarget {
  return { refId, datasource: PG, format, rawQuery: true, editorMode: 'code', rawSql: rawSql.replace(/\s+/g, ' ').trim() }
}

function prom(refId: string, expr: string, legendFormat: string): PromTarget {
  return { refId, datasource: PROM, expr, legendFormat }
}

/**
 * The rollup rows of the panel's range for Grafana's $__interval: hourly rows when it is whole hours (a
 * 30-day range: 720 per series instead of 43,200), else per-minute rows. $__interval_ms is a number in the
 * SQL Grafana sends, so PostgreSQL folds the two conditions and runs one branch only; the others' filters
 * are pushed into it. Whole buckets overlapping the range, as the API answers: the hour holding the range
 * start is in, though it starts before it.
 */
const ROLLUPS = `(SELECT gpu_uuid, metric_name, bucket, count, sum, min, max FROM telemetry_1h
                  WHERE $__interval_ms % 3600000 = 0 AND bucket > $__timeFrom()::timestamptz - interval '1 hour' AND bucket <= $__timeTo()
                  UNION ALL
                  SELECT gpu_uuid, metric_name, bucket, count, sum, min, max FROM telemetry_1m
                  WHERE $__interval_ms % 3600000 <> 0 AND $__timeFilter(bucket))`

/** Average per bucket of one metric, from the rollups. */
function gpuMetricSql(metric: string): string {
  return `SELECT $__timeGroupAlias(bucket, $__interval), sum(sum) / sum(count) AS "avg", min(min) AS "min", max(max) AS "max"
          FROM ${ROLLUPS} r WHERE gpu_uuid = '$gpu' AND metric_name = '${metric}'
          GROUP BY 1 ORDER BY 1`
}

function hostMetricSql(metric: string): string {
  return `SELECT $__timeGroupAlias(r.bucket, $__interval), 'GPU ' || g.gpu_id AS metric, sum(r.sum) / sum(r.count) AS value
          FROM ${ROLLUPS} r JOIN gpus g ON g.gpu_uuid = r.gpu_uuid
          WHERE g.hostname = '$host' AND r.metric_name = '${metric}'
          GROUP BY 1, 2 ORDER BY 1`
}

export function buildDashboard(): Record<string, unknown> {
  let id = 0
  let y = 0
  const panels: Panel[] = []
  const row = (title: string) => {
    panels.push({ id: ++id, type: 'row', title, gridPos: { x: 0, y: y++, w: 24, h: 1 }, collapsed: false, panels: [] })
  }
  const add = (p: Omit<Panel, 'id' | 'gridPos'> & { w: number; h: number; x: number }, nextRow = false) => {
    const { w, h, x, ...rest } = p
    panels.push({ id: ++id, ...rest, gridPos: { x, y, w, h } })
    if (nextRow) y += h
  }
  const series = (unit: string, extra: Record<string, unknown> = {}) => ({
    defaults: { unit, custom: { lineWidth: 1, fillOpacity: 10, showPoints: 'never', spanNulls: false }, ...extra },
    overrides: [],
  })
  const stat = (unit = 'short') => ({ defaults: { unit, color: { mode: 'thresholds' } }, overrides: [] })

  row('Fleet')
  add({ type: 'stat', title: 'GPUs seen in range', datasource: PG, targets: [sql('A', `SELECT count(*) AS "GPUs" FROM gpus WHERE $__timeFilter(last_seen)`, 'table')], fieldConfig: stat(), x: 0, w: 4, h: 4 })
  add({ type: 'stat', title: 'Hosts seen in range', datasource: PG, targets: [sql('A', `SELECT count(DISTINCT hostname) AS "hosts" FROM gpus WHERE $__timeFilter(last_seen)`, 'table')], fieldConfig: stat(), x: 4, w: 4, h: 4 })
  add(
    {
      type: 'stat',
      title: 'GPUs idle / busy / hot (latest values)',
      description: 'From the latest value of each GPU: idle = utilisation < 5 %, busy = utilisation ≥ 80 %, hot = temperature ≥ 80 °C (the web dashboard uses the same thresholds).',
      datasource: PG,
      targets: [
        sql(
          'A',
          `SELECT count(*) FILTER (WHERE u.value < 5) AS "idle", count(*) FILTER (WHERE u.value >= 80) AS "busy", count(*) FILTER (WHERE t.value >= 80) AS "hot"
           FROM gpus g
           LEFT JOIN telemetry_latest u ON u.gpu_uuid = g.gpu_uuid AND u.metric_name = 'DCGM_FI_DEV_GPU_UTIL'
           LEFT JOIN telemetry_latest t ON t.gpu_uuid = g.gpu_uuid AND t.metric_name = 'DCGM_FI_DEV_GPU_TEMP'
           WHERE $__timeFilter(g.last_seen)`,
          'table',
        ),
      ],
      fieldConfig: stat(),
      x: 8,
      w: 8,
      h: 4,
    },
  )
  add(
    {
      type: 'stat',
      title: 'Seconds since the newest sample',
      description: 'How far behind ingest is: now minus the newest stored sample time (telemetry_latest).',
      datasource: PG,
      targets: [sql('A', `SELECT coalesce(extract(epoch FROM now() - max(ts)), 0) AS "lag" FROM telemetry_latest`, 'table')],
      fieldConfig: stat('s'),
      x: 16,
      w: 8,
      h: 4,
    },
    true,
  )
  add({
    type: 'timeseries',
    title: 'Fleet GPU utilisation (avg, min, max per bucket)',
    datasource: PG,
    interval: '1m',
    targets: [
      sql(
        'A',
        `SELECT $__timeGroupAlias(bucket, $__interval), sum(sum) / sum(count) AS "avg", min(min) AS "min", max(max) AS "max"
         FROM ${ROLLUPS} r WHERE metric_name = 'DCGM_FI_DEV_GPU_UTIL' GROUP BY 1 ORDER BY 1`,
      ),
    ],
    fieldConfig: series('percent', { min: 0, max: 100 }),
    x: 0,
    w: 12,
    h: 8,
  })
  add(
    {
      type: 'timeseries',
      title: 'Power per host (sum of its GPUs)',
      datasource: PG,
      interval: '1m',
      targets: [
        sql(
          'A',
          `SELECT time, hostname AS metric, sum(avg) AS "power" FROM (
             SELECT $__timeGroup(r.bucket, $__interval) AS time, g.hostname, r.gpu_uuid, sum(r.sum) / sum(r.count) AS avg
             FROM ${ROLLUPS} r JOIN gpus g ON g.gpu_uuid = r.gpu_uuid
             WHERE r.metric_name = 'DCGM_FI_DEV_POWER_USAGE'
             GROUP BY 1, 2, 3) per_gpu
           GROUP BY 1, 2 ORDER BY 1`,
        ),
      ],
      fieldConfig: series('watt'),
      x: 12,
      w: 12,
      h: 8,
    },
    true,
  )
  add(
    {
      type: 'table',
      title: 'Hottest GPUs now',
      datasource: PG,
      targets: [
        sql(
          'A',
          `SELECT g.hostname AS "host", g.gpu_id AS "GPU", t.value AS "temperature", u.value AS "utilisation", p.value AS "power", t.ts AS "at", g.gpu_uuid AS "uuid"
           FROM telemetry_latest t JOIN gpus g ON g.gpu_uuid = t.gpu_uuid
           LEFT JOIN telemetry_latest u ON u.gpu_uuid = t.gpu_uuid AND u.metric_name = 'DCGM_FI_DEV_GPU_UTIL'
           LEFT JOIN telemetry_latest p ON p.gpu_uuid = t.gpu_uuid AND p.metric_name = 'DCGM_FI_DEV_POWER_USAGE'
           WHERE t.metric_name = 'DCGM_FI_DEV_GPU_TEMP' ORDER BY t.value DESC, g.hostname, g.gpu_id LIMIT 10`,
          'table',
        ),
      ],
      fieldConfig: {
        defaults: {},
        overrides: [
          { matcher: { id: 'byName', options: 'temperature' }, properties: [{ id: 'unit', value: 'celsius' }] },
          { matcher: { id: 'byName', options: 'utilisation' }, properties: [{ id: 'unit', value: 'percent' }] },
          { matcher: { id: 'byName', options: 'power' }, properties: [{ id: 'unit', value: 'watt' }] },
        ],
      },
      x: 0,
      w: 24,
      h: 8,
    },
    true,
  )

  row('Host $host: its GPUs side by side')
  KEY_METRICS.forEach((m, i) => {
    const info = metricInfo(m)
    add({ type: 'timeseries', title: `${info.label} per GPU of $host`, datasource: PG, interval: '1m', targets: [sql('A', hostMetricSql(m))], fieldConfig: series(grafanaUnit(m)), x: (i % 2) * 12, w: 12, h: 8 }, i % 2 === 1)
  })

  row('GPU $gpu')
  const gpuMetrics = [...KEY_METRICS, 'DCGM_FI_DEV_SM_CLOCK', 'DCGM_FI_DEV_MEM_COPY_UTIL']
  gpuMetrics.forEach((m, i) => {
    const info = metricInfo(m)
    add({ type: 'timeseries', title: `${info.label} (${info.unit})`, datasource: PG, interval: '1m', targets: [sql('A', gpuMetricSql(m))], fieldConfig: series(grafanaUnit(m)), x: (i % 3) * 8, w: 8, h: 7 }, i % 3 === 2)
  })

  row('Pipeline health (Prometheus)')
  add({
    type: 'timeseries',
    title: 'Throughput: published and persisted per second',
    datasource: PROM,
    targets: [
      prom('A', 'sum(rate(mqwriter_messages_published_total[$__rate_interval]))', 'published/s (mqwriter)'),
      prom('B', 'sum(rate(collector_rows_persisted_total[$__rate_interval]))', 'persisted/s (collector)'),
      prom('C', 'sum(rate(streamer_messages_published_total[$__rate_interval]))', 'sent/s (streamer)'),
    ],
    fieldConfig: series('ops'),
    x: 0,
    w: 12,
    h: 8,
  })
  add(
    {
      type: 'timeseries',
      title: 'Queue depth held by the readers, and buffer use',
      description: 'Messages the mqreaders hold in memory (ready to lease, and leased but not acked yet). The backlog still in PostgreSQL is the panel "Queue backlog" below.',
      datasource: PROM,
      targets: [
        prom('A', 'sum(mqreader_ready_messages)', 'ready'),
        prom('B', 'sum(mqreader_leased_messages)', 'leased'),
        prom('C', 'sum(mqwriter_buffered_messages)', 'buffered in mqwriter'),
      ],
      fieldConfig: series('short'),
      x: 12,
      w: 12,
      h: 8,
    },
    true,
  )
  add({
    type: 'timeseries',
    title: 'Dead letters, redeliveries, hand-backs, rejections per second',
    datasource: PROM,
    targets: [
      prom('A', 'sum(rate(collector_dead_letters_total[$__rate_interval]))', 'dead letters/s'),
      prom('B', 'sum(rate(mqreader_messages_redelivered_total[$__rate_interval]))', 'redelivered/s'),
      prom('C', 'sum(rate(mqwriter_publish_rejected_total[$__rate_interval]))', 'publishes rejected/s (429/503)'),
      prom('D', 'sum(rate(collector_persist_failures_total[$__rate_interval]))', 'persist failures/s'),
      prom('E', 'sum(rate(mqreader_messages_released_total[$__rate_interval]))', 'handed back by collectors/s'),
    ],
    fieldConfig: series('ops'),
    x: 0,
    w: 8,
    h: 8,
  })
  add({
    type: 'timeseries',
    title: 'Latency p99: collector batch, apigw request',
    datasource: PROM,
    targets: [
      prom('A', 'histogram_quantile(0.99, sum by (le) (rate(collector_batch_duration_seconds_bucket[$__rate_interval])))', 'collector batch p99'),
      prom('B', 'histogram_quantile(0.99, sum by (le) (rate(mqwriter_flush_duration_seconds_bucket[$__rate_interval])))', 'mqwriter flush p99'),
      prom('C', 'histogram_quantile(0.99, sum by (le) (rate(apigw_request_duration_seconds_bucket[$__rate_interval])))', 'apigw request p99'),
    ],
    fieldConfig: series('s'),
    x: 8,
    w: 8,
    h: 8,
  })
  add(
    {
      type: 'stat',
      title: 'Queue backlog and oldest message',
      description: 'From PostgreSQL (no service exports these): rows waiting in queue_messages (counted up to 1,000,000) and the age of the oldest one; growing values mean collectors fall behind.',
      datasource: PG,
      targets: [
        sql('A', `SELECT count(*) AS "backlog (rows)" FROM (SELECT 1 FROM queue_messages LIMIT 1000000) q`, 'table'),
        sql('B', `SELECT coalesce(extract(epoch FROM now() - min(enqueued_at)), 0) AS "oldest message (s)" FROM (SELECT enqueued_at FROM queue_messages ORDER BY id LIMIT 1000) q`, 'table'),
      ],
      fieldConfig: stat(),
      x: 16,
      w: 8,
      h: 8,
    },
    true,
  )

  return {
    uid: DASHBOARD_UID,
    title: 'tpipe — GPU fleet and pipeline',
    description: 'GPU telemetry stored by tpipe (PostgreSQL) and the pipeline’s health (Prometheus). Shipped by the telemetry-pipeline chart.',
    tags: ['tpipe', 'gpu', 'dcgm'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    links: [],
    annotations: { list: [] },
    templating: {
      list: [
        { name: 'pg', label: 'PostgreSQL', type: 'datasource', query: PG_TYPE, current: { text: 'tpipe PostgreSQL', value: PG_UID }, hide: 0 },
        { name: 'prom', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: { text: 'Prometheus', value: PROM_UID }, hide: 0 },
        { name: 'host', label: 'Host', type: 'query', datasource: PG, query: 'SELECT DISTINCT hostname FROM gpus ORDER BY 1', definition: 'SELECT DISTINCT hostname FROM gpus ORDER BY 1', refresh: 2, sort: 1, multi: false, includeAll: false, hide: 0 },
        {
          name: 'gpu',
          label: 'GPU',
          type: 'query',
          datasource: PG,
          query: `SELECT 'GPU ' || gpu_id || ' (' || gpu_uuid || ')' AS __text, gpu_uuid AS __value FROM gpus WHERE hostname = '$host' ORDER BY gpu_id`,
          definition: `SELECT 'GPU ' || gpu_id || ' (' || gpu_uuid || ')' AS __text, gpu_uuid AS __value FROM gpus WHERE hostname = '$host' ORDER BY gpu_id`,
          refresh: 2,
          multi: false,
          includeAll: false,
          hide: 0,
        },
      ],
    },
    panels,
  }
}

/** The committed file's text (charts/telemetry-pipeline/dashboards/tpipe.json). */
export function dashboardText(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`
}
