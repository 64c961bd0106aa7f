// Pure SQL builders for the read API. Hot statements are named so each connection prepares them once.
import { createHash } from 'node:crypto'
import type { Agg, GroupBy, Source } from './query.js'

export interface Query {
  name?: string
  text: string
  values: unknown[]
}

/** A timestamptz column as RFC 3339 text in UTC with microseconds (what the API answers). */
const TS_TEXT_OF = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
const TS_TEXT = TS_TEXT_OF('t.ts')


export function gpuExists(id: string): Query {
  return { name: 'apigw_gpu_exists', text: 'SELECT 1 FROM gpus WHERE gpu_uuid = $1', values: [id] }
}

export interface TelemetryPage {
  id: string
  /** RFC 3339 text handed to PostgreSQL as is (microseconds survive); '-infinity'/'infinity' when open. */
  start: string
  end: string
  metrics: readonly string[]
  limit: number
  after?: { ts: string; msgUuid: string } | undefined
  /** Newest first: the same index read backwards. */
  desc?: boolean
  /** Also container, pod, namespace and labels: these live only in the heap (labels also in telemetry_series), so the scan is no longer index-only. */
  detail?: boolean
}

/**
 * One page of a GPU's telemetry in (ts, msg_uuid) order. The keyset condition is a row comparison so
 * that the whole WHERE is one range on the index (gpu_uuid, ts, msg_uuid) INCLUDE (metric_name, value):
 * without `detail` the page is an index-only scan, costs the same on the first and the millionth page,
 * and rows sharing a timestamp are neither skipped nor repeated. One row more than the limit is read to
 * know whether a next page exists. ts is returned as text with microseconds, because a JS Date would
 * truncate them and break the cursor.
 */
export function telemetryPage(p: TelemetryPage): Query {
  const { values, where, order } = pageRange(p)
  // Labels live in the row (rows written before telemetry_series, or by a collector without its series
  // cache) or once per series in telemetry_series (migration 1764209800000): one index probe a row that has a series.
  const detail = p.detail
    ? ', t.container, t.pod, t.namespace, CASE WHEN t.series_id IS NULL THEN t.labels ELSE (SELECT s.labels FROM telemetry_series AS s WHERE s.series_id = t.series_id) END AS labels'
    : ''
  return {
    name: `apigw_telemetry_${pageShape(p)}`,
    // ORDER BY names the table's columns (t.ts), not the text column of the same name in the output.
    text: `SELECT t.msg_uuid, ${TS_TEXT} AS ts, t.metric_name, t.value${detail}
           FROM telemetry AS t WHERE ${where}
           ORDER BY ${order} LIMIT $4`,
    values,
  }
}

function pageRange(p: TelemetryPage): { values: unknown[]; where: string; order: string } {
  const values: unknown[] = [p.id, p.start, p.end, p.limit + 1]
  let where = 't.gpu_uuid = $1 AND t.ts >= $2::timestamptz AND t.ts <= $3::timestamptz'
  if (p.after) {
    values.push(p.after.ts, p.after.msgUuid)
    where += ` AND (t.ts, t.msg_uuid) ${p.desc ? '<' : '>'} ($${values.length - 1}::timestamptz, $${values.length}::uuid)`
  }
  if (p.metrics.length) {
    values.push(p.metrics)
    where += ` AND t.metric_name = ANY($${values.length}::text[])`
  }
  return { values, where, order: p.desc ? 't.ts DESC, t.msg_uuid DESC' : 't.ts, t.msg_uuid' }
}

const pageShape = (p: TelemetryPage) => `${p.after ? 'c' : ''}${p.metrics.length ? 'm' : ''}${p.detail ? 'd' : ''}${p.desc ? 'r' : ''}`

/**
 * JSON text of a float8 column, as JSON.stringify writes the number node-pg parses from its text. Where
 * 1e-4 <= |v| < 999999999999999, PostgreSQL's float8 text is JavaScript's Number#toString: with
 * extra_float_digits > 0 (the default 1) both are the shortest text that reads back as the same double,
 * in positional notation; with 0, PostgreSQL's %.15g digits (positional below that bound, which keeps
 * 999999999999999.5 from rounding to 1e+15), which parseFloat and String give back unchanged. 0 and -0
 * are "0". Every other value (exponent forms, where the two differ: 1e+15 / 1000000000000000, 1e-05 /
 * 0.00001, 1e-07 / 1e-7; NaN and ±Infinity, which JSON writes as null), and every value of a session with
 * a negative extra_float_digits (%g switches to exponents sooner), is wrapped in U+0001 marks for
 * finishJson (json.ts) to write in JavaScript. U+0001 never occurs raw in JSON text (strings escape it).
 */
export function jsonNumber(col: string): string {
  const plain = `abs(${col}) >= '1e-4'::float8 AND abs(${col}) < '999999999999999'::float8 AND (SELECT current_setting('extra_float_digits')::int >= 0)`
  return `CASE WHEN ${plain} THEN ${col}::text WHEN ${col} = 0 THEN '0' ELSE E'\\x01' || ${col}::text || E'\\x01' END`
}

/** JSON text of a text column (to_json escapes exactly as JSON.stringify does for any text PostgreSQL can hold). */
const jsonText = (col: string) => `to_json(${col})::text`

/**
 * The same page as telemetryPage (without `detail`), its rows already JSON text in PostgreSQL, joined
 * with commas: one row (n, rows) instead of 1,000, so the apigw neither parses nor serialises each row
 * (answer byte-for-byte that of JSON.stringify over telemetryPage's rows; tests compare both). n counts
 * the rows read, up to limit + 1; `times` the distinct times among them (byTime only: counting them
 * here would take a sort that need not keep the rows' order). Rows stay in the subquery's order: a plain
 * aggregate over it reads them as the Limit returns them.
 *
 * `byTime` formats each distinct time once: the page's rows are grouped by ts (consecutive in the
 * scan's order), each group's rows made with a U+0002 mark where the time goes and the mark replaced by
 * the group's one to_char. A scrape or a remote_write sample set stamps all of a GPU's metrics with one
 * time, so a page of such rows has ~10 rows a time and to_char — about a third of the per-row statement —
 * runs a tenth as often; rows stamped one by one (the CSV streamer) make groups of one, where the
 * grouping costs more than it saves (bench/page-statement.ts times both on either shape; the apigw
 * picks per GPU: PageForms). U+0002 never occurs raw in the rows: to_json escapes it in metric names,
 * and uuids and numbers cannot hold it.
 */
export function telemetryPageJson(p: Omit<TelemetryPage, 'detail'>, byTime = false): Query {
  const { values, where, order } = pageRange(p)
  const rowJson = (ts: string) =>
    `'{"msg_uuid":"' || t.msg_uuid::text || '","ts":"' || ${ts} || '","metric_name":' || ${jsonText('t.metric_name')} || ',"value":' || ${jsonNumber('t.value')} || '}'`
  if (!byTime) {
    return {
      name: `apigw_telemetry_json_${pageShape(p)}`,
      text: `SELECT count(*)::int AS n, NULL::int AS times, string_agg(p.j, ',') AS rows
             FROM (SELECT ${rowJson(TS_TEXT)} AS j FROM telemetry AS t WHERE ${where} ORDER BY ${order} LIMIT $4) AS p`,
      values,
    }
  }
  const dir = p.desc ? ' DESC' : ''
  return {
    name: `apigw_telemetry_json_t${pageShape(p)}`,
    // The inner aggregate reads each group's rows in the Limit's order (the groups are runs of it); the
    // groups are ordered by their time, as the rows were.
    text: `SELECT coalesce(sum(g.n), 0)::int AS n, count(*)::int AS times, string_agg(replace(g.j, E'\\x02', ${TS_TEXT_OF('g.ts')}), ',') AS rows
           FROM (SELECT t.ts, count(*) AS n, string_agg(${rowJson("E'\\x02'")}, ',') AS j
                 FROM (SELECT t.ts, t.msg_uuid, t.metric_name, t.value FROM telemetry AS t WHERE ${where} ORDER BY ${order} LIMIT $4) AS t
                 GROUP BY t.ts ORDER BY t.ts${dir}) AS g`,
    values,
  }
}

// ---- Bucketed series and fleet views (issue 14) ----


/** Statements whose text depends on the options get a name per text: one prepare per shape and connection. */
function named(prefix: string, text: string, values: unknown[]): Query {
  return { name: `${prefix}_${createHash('sha1').update(text).digest('hex').slice(0, 10)}`, text, values }
}

const RAW_AGG: Record<Agg, string> = {
  avg: 'avg(t.value)',
  min: 'min(t.value)',
  max: 'max(t.value)',
  count: 'count(*)::float8',
  last: '(array_agg(t.value ORDER BY t.ts DESC, t.msg_uuid DESC))[1]',
}
/** The same aggregates combined from per-minute or hourly rollups (exact: avg is sum over count, last by (ts, msg_uuid)). */
const ROLLUP_AGG: Record<Agg, string> = {
  avg: 'sum(t.sum) / sum(t.count)',
  min: 'min(t.min)',
  max: 'max(t.max)',
  count: 'sum(t.count)::float8',
  last: '(array_agg(t.last ORDER BY t.last_ts DESC, t.last_msg DESC))[1]',
}

/** One rollup row is one bucket when the step is the rollup's own width: its columns, nothing to combine. */
const ROLLUP_ROW: Record<Agg, string> = {
  avg: 't.sum / t.count',
  min: 't.min',
  max: 't.max',
  count: 't.count::float8',
  last: 't.last',
}
const ROLLUP_WIDTH: Record<string, number> = { telemetry_1m: 60, telemetry_1h: 3600 }

export interface SeriesQuery {
  agg: Agg
  stepSeconds: number
  /** Whole buckets: [fromS, toS) in Unix seconds. */
  fromS: number
  toS: number
  /** The table that answers (query.ts pickSource): raw rows, or rollups whose bucket divides the step. */
  source: Source
}

function source(q: SeriesQuery): { table: string; time: string; agg: string } {
  return q.source === 'telemetry' ? { table: 'telemetry', time: 't.ts', agg: RAW_AGG[q.agg] } : { table: q.source, time: 't.bucket', agg: ROLLUP_AGG[q.agg] }
}

/** One GPU, several metrics: rows (metric, bucket start in Unix seconds, value) in metric and time order. */
export function gpuSeries(id: string, metrics: readonly string[], q: SeriesQuery): Query {
  const s = source(q)
  if (ROLLUP_WIDTH[q.source] === q.stepSeconds) {
    // A bucket per rollup row: read the rows in key order, no grouping (24 h at step=60s: 1,440 rows,
    // 5.7 -> ~2 ms on the bench table). Same answer as the grouped form (tests compare both with raw rows).
    const text = `SELECT t.metric_name AS series, extract(epoch FROM t.bucket)::bigint AS t, ${ROLLUP_ROW[q.agg]} AS v
                  FROM ${s.table} AS t
                  WHERE t.gpu_uuid = $1 AND t.metric_name = ANY($2::text[]) AND t.bucket >= to_timestamp($3) AND t.bucket < to_timestamp($4)
                  ORDER BY 1, 2`
    return named('apigw_gpu_rows', text, [id, metrics, q.fromS, q.toS])
  }
  const text = `SELECT t.metric_name AS series, (floor(extract(epoch FROM ${s.time}) / $3) * $3)::bigint AS t, ${s.agg} AS v
                FROM ${s.table} AS t
                WHERE t.gpu_uuid = $1 AND t.metric_name = ANY($2::text[]) AND ${s.time} >= to_timestamp($4) AND ${s.time} < to_timestamp($5)
                GROUP BY 1, 2 ORDER BY 1, 2`
  return named('apigw_gpu_series', text, [id, metrics, q.stepSeconds, q.fromS, q.toS])
}

/** The metrics a GPU has (for a step query that names none): from the latest-value table. */
export function gpuMetrics(id: string): Query {
  return { name: 'apigw_gpu_metrics', text: 'SELECT metric_name FROM telemetry_latest WHERE gpu_uuid = $1 ORDER BY metric_name', values: [id] }
}

const GROUP_COLUMN: Record<GroupBy, string> = { gpu: 'g.gpu_uuid', hostname: 'g.hostname', model: 'g.model_name' }

export interface FleetFilter {
  hostname?: string | undefined
  model?: string | undefined
}

function fleetWhere(f: FleetFilter, values: unknown[]): string {
  let where = ''
  if (f.hostname !== undefined) {
    values.push(f.hostname)
    where += ` AND g.hostname = $${values.length}`
  }
  if (f.model !== undefined) {
    values.push(f.model)
    where += ` AND g.model_name = $${values.length}`
  }
  return where
}

/** How many series a fleet query would return (checked against the point cap before it runs). */
export function fleetGroupCount(groupBy: GroupBy, f: FleetFilter): Query {
  const values: unknown[] = []
  const text = `SELECT count(DISTINCT ${GROUP_COLUMN[groupBy]})::int AS n FROM gpus AS g WHERE true${fleetWhere(f, values)}`
  return named('apigw_fleet_groups', text, values)
}

/**
 * One metric across the fleet, grouped by GPU, host or model (GPU attributes from the gpus table, so a
 * GPU counts under its current host and model), bucketed: rows (group, bucket start, value).
 */
export function fleetSeries(metric: string, groupBy: GroupBy, f: FleetFilter, q: SeriesQuery): Query {
  const s = source(q)
  const values: unknown[] = [metric, q.stepSeconds, q.fromS, q.toS]
  const where = fleetWhere(f, values)
  const text = `SELECT ${GROUP_COLUMN[groupBy]} AS series, (floor(extract(epoch FROM ${s.time}) / $2) * $2)::bigint AS t, ${s.agg} AS v
                FROM ${s.table} AS t JOIN gpus AS g ON g.gpu_uuid = t.gpu_uuid
                WHERE t.metric_name = $1 AND ${s.time} >= to_timestamp($3) AND ${s.time} < to_timestamp($4)${where}
                GROUP BY 1, 2 ORDER BY 1, 2`
  return named('apigw_fleet_series', text, values)
}

export interface FleetLatest extends FleetFilter {
  sort?: string | undefined
  order: 'asc' | 'desc'
  limit?: number | undefined
}

/** Asked metrics up to this many are read one probe each per GPU (fleetLatestJson); more are aggregated per GPU. */
export const METRIC_PROBES_MAX = 4

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** Code-point order (UTF-8 byte order, PostgreSQL's "C" collation): the order of `latest` keys, whatever the database's collation. */
export function codePointCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/**
 * The fleet listing as JSON text built in PostgreSQL: the GPUs (by a metric's latest value, GPUs without it
 * last, then hostname and gpu_id; without `sort`, hostname and gpu_id), each as JSON with its `latest`
 * values (when metrics are asked for), keys in code-point order of the metric names; one row, one text.
 * Byte-for-byte the answer the apigw built before from the GPUs' rows and a second statement's latest
 * values with JSON.stringify (json.int.test.ts keeps that as its reference), for a fraction of the apigw's CPU
 * and one round trip instead of two. (Building it with json_build_object / json_agg cost PostgreSQL more
 * than the apigw's JSON.stringify; text concatenation and to_json of the strings alone cost less than
 * node-pg's parsing plus JSON.stringify.)
 *
 * The GPUs of the answer are chosen first (filters, sort, limit: "top 10" reads 10 GPUs' values, not the
 * fleet's), then their latest values are read. Up to METRIC_PROBES_MAX asked metrics, each is a scalar
 * subquery per GPU — one probe of telemetry_latest's key (gpu_uuid, metric_name) making the entry's text,
 * or NULL, which concat_ws skips — the entry's key JSON text made here once, not by to_json in every row,
 * and the sort metric's entry from the choice itself. Without a limit (the whole fleet, or all of a filter's
 * GPUs) those up to METRIC_PROBES_MAX metrics are LEFT JOINs inside the choice instead, which lets the
 * planner read each metric's rows in one pass and hash them rather than probe once per GPU: 2 metrics
 * sorted over 247 GPUs −10%, 4 −15% a statement (one session, interleaved; named statements, whose generic
 * plan is made once, so the joins' planning is not paid per request). More metrics are read by one string_agg per GPU
 * over the same key, an aggregate with its own sort. bench/fleet-statement.ts times both for the same
 * metrics in one session (`probesMax` is its switch); figures in BENCHMARKS.md. On 247 GPUs the probes
 * cost 55–70% of the aggregate for 1–2 metrics, about the same at 4–8, three times as much at 50. (Joins
 * for every metric were tried: planning 8 took 4–5 ms a statement, and under a LIMIT they read every GPU's
 * values, hence probes with a limit and joins up to METRIC_PROBES_MAX only.)
 */
export function fleetLatestJson(p: FleetLatest, metrics: readonly string[], probesMax = METRIC_PROBES_MAX): Query {
  const values: unknown[] = []
  // As PostgreSQL will see them: node-pg sends a lone surrogate as U+FFFD (UTF-8 has no surrogates), and the
  // entries' keys are JSON text made here, which must name the metric the row was matched on.
  const ordered = [...new Set(metrics.map((m) => m.replace(LONE_SURROGATE, '\uFFFD')))].sort(codePointCompare)
  const entry = (value: string, ts: string, key: string) => `${key} || ${jsonNumber(value)} || ',"ts":"' || ${TS_TEXT_OF(ts)} || '"}'`

  // The GPUs of the answer, in its order; with `sort`, that metric's latest value and time beside each.
  let sortJoin = ''
  let sortColumns = ''
  let order = 'g.hostname, g.gpu_id, g.gpu_uuid'
  if (p.sort !== undefined) {
    values.push(p.sort)
    sortJoin = ` LEFT JOIN telemetry_latest AS s ON s.gpu_uuid = g.gpu_uuid AND s.metric_name = $${values.length}`
    sortColumns = ', s.value AS sort_value, s.ts AS sort_ts, s.gpu_uuid IS NOT NULL AS sort_has'
    const dir = `${p.order === 'asc' ? 'ASC' : 'DESC'} NULLS LAST`
    order = `s.value ${dir}, ${order}`
  }
  const where = fleetWhere(p, values)
  let limit = ''
  if (p.limit !== undefined) {
    values.push(p.limit)
    limit = ` LIMIT $${values.length}`
  }
  let latest = ''
  let joins = ''
  if (ordered.length > probesMax) {
    values.push(ordered)
    const agg = `string_agg(${entry('l.value', 'l.ts', `${jsonText('l.metric_name')} || ':{"value":'`)}, ',' ORDER BY l.metric_name COLLATE "C")`
    latest = ` || ',"latest":{' || coalesce((SELECT ${agg} FROM telemetry_latest AS l
                                               WHERE l.gpu_uuid = g.gpu_uuid AND l.metric_name = ANY($${values.length}::text[])), '') || '}'`
  } else if (ordered.length) {
    const entries: string[] = []
    for (const metric of ordered) {
      values.push(`${JSON.stringify(metric)}:{"value":`)
      const key = `$${values.length}::text`
      if (metric === p.sort) {
        entries.push(`CASE WHEN g.sort_has THEN ${entry('g.sort_value', 'g.sort_ts', key)} END`)
        continue
      }
      values.push(metric)
      if (p.limit === undefined && ordered.length <= METRIC_PROBES_MAX) {
        const m = `m${entries.length}`
        joins += ` LEFT JOIN telemetry_latest AS ${m} ON ${m}.gpu_uuid = g.gpu_uuid AND ${m}.metric_name = $${values.length}`
        sortColumns += `, ${m}.value AS ${m}_value, ${m}.ts AS ${m}_ts`
        entries.push(`CASE WHEN g.${m}_ts IS NOT NULL THEN ${entry(`g.${m}_value`, `g.${m}_ts`, key)} END`)
        continue
      }
      entries.push(`(SELECT ${entry('l.value', 'l.ts', key)} FROM telemetry_latest AS l WHERE l.gpu_uuid = g.gpu_uuid AND l.metric_name = $${values.length})`)
    }
    latest = ` || ',"latest":{' || concat_ws(',', ${entries.join(', ')}) || '}'`
  }
  // The heads: joined to the choice for a whole listing (one pass, sorted once); under a limit, one probe
  // for each chosen GPU, after the choice (the top 10 need 10 heads, not the fleet's).
  const headJoin = limit ? '' : ' LEFT JOIN gpus_json AS h ON h.gpu_uuid = g.gpu_uuid'
  const headColumn = limit ? '' : ', h.head'
  const chosen = `SELECT g.gpu_uuid, g.hostname, g.gpu_id, g.device, g.model_name, g.last_seen${headColumn}${sortColumns}
                  FROM gpus AS g${sortJoin}${joins}${headJoin} WHERE true${where} ORDER BY ${order}${limit}`
  // The GPU's attributes as JSON text, kept in gpus_json by triggers on gpus (migration 1764209900000); made
  // here should a row be missing from it.
  const stored = limit ? '(SELECT h.head FROM gpus_json AS h WHERE h.gpu_uuid = g.gpu_uuid)' : 'g.head'
  const head = `coalesce(${stored}, '{"id":' || ${jsonText('g.gpu_uuid')} || ',"hostname":' || ${jsonText('g.hostname')} || ',"gpu_id":' || g.gpu_id::text
                || ',"device":' || ${jsonText('g.device')} || ',"model_name":' || ${jsonText('g.model_name')})`
  const gpu = `${head} || ',"last_seen":"' || ${TS_TEXT_OF('g.last_seen')} || '"'${latest} || '}'`
  // The aggregate reads the GPUs in the choice's order (nothing after the choice joins or sorts).
  const text = `SELECT string_agg(x.j, ',') AS gpus
                FROM (SELECT ${gpu} AS j FROM (${chosen}) AS g) AS x`
  return named('apigw_fleet_json', text, values)
}
