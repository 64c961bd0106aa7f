// apigw: the read API over the telemetry and gpus tables (REST, OpenAPI from the route schemas, Swagger
// UI). Owns nothing but its routes and metrics; must never write: the collector writes telemetry and
// the trigger of migration 1764201800000 maintains gpus.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { pino, type Logger } from 'pino'
import type { Config } from '../config/index.js'
import { SETTINGS } from '../config/schema.js'
import { isDataError, isUnavailable, pgCode, PG_ERROR } from '../db/errors.js'
import { ping } from '../db/pool.js'
import { TpipeError } from '../errors.js'
import { requireToken } from '../http/auth.js'
import { buildServer, DEFAULT_HTTP_LIMITS } from '../http/server.js'
import { Counter, Histogram, createRegistry, type Registry } from '../metrics/index.js'
import { Gpu, TelemetryRow } from '../protocol/apigw.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { AnswerBuffers } from './answer.js'
import { PageForms } from './pageform.js'
import { compressJson } from './compress.js'
import { loadDashboard, registerDashboard, type DashboardFiles } from './dashboard.js'
import { badParameter, buckets, DEFAULT_WINDOW_MS, parseAgg, parseGroupBy, parseMetricList, parseStep, pickSource, resolveRange, type Range, type Retention } from './query.js'
import { fleetGpuSchema, fleetListResponse, fleetSeriesResponse, gpuSeriesExample, gpuSeriesSchema, latestValueSchema } from '../protocol/series.js'
import { PACKAGE_VERSION } from '../paths.js'
import { finishJson } from './json.js'
import { fleetGroupCount, fleetLatestJson, fleetSeries, gpuExists, gpuMetrics, gpuSeries, telemetryPage, telemetryPageJson, type Query } from './sql.js'

/** What apigw needs of a pool; `tpipe openapi` passes one that has no database behind it. */
export interface Queryable {
  query<R extends object>(q: Query): Promise<{ rows: R[] }>
}

export interface ApigwDeps {
  pool: Queryable
  logger?: Logger
  registry?: Registry
  /** The built dashboard (dist/web); tests and `tpipe openapi` may pass their own or none. */
  dashboard?: DashboardFiles
}

type ApigwConfig = Pick<Config, 'logLevel' | 'bodyLimitBytes' | 'metricsEnabled'> &
  Partial<
    Pick<
      Config,
      'apiToken' | 'httpRequestTimeoutMs' | 'httpHeadersTimeoutMs' | 'httpIdleTimeoutMs' | 'jsonMaxDepth' | 'telemetryRetentionMs' | 'rollupRetentionMs' | 'rollup1hRetentionMs'
    >
  >

export const DEFAULT_LIMIT = 1000
export const MAX_LIMIT = 10000
const RETRY_AFTER_SECONDS = 1

const telemetryPageSchema = {
  $id: 'TelemetryPage',
  type: 'object',
  required: ['id', 'telemetry', 'next_cursor'],
  properties: {
    id: { type: 'string' },
    telemetry: { type: 'array', items: { $ref: 'TelemetryRow#' } },
    next_cursor: { type: 'string', nullable: true, description: 'Cursor of the next page; null when this is the last page.' },
  },
} as const

const err = (description: string) => ({ description, $ref: 'ErrorBody#' }) as const

interface TelemetryQuery {
  start?: string
  end?: string
  start_time?: string
  end_time?: string
  window?: string
  step?: string
  agg?: string
  metric?: string[]
  limit?: number
  cursor?: string
  order?: 'asc' | 'desc'
  detail?: boolean
}

interface GpusQuery {
  metrics?: string
  hostname?: string
  model?: string
  sort?: string
  order?: 'asc' | 'desc'
  limit?: number
}

interface FleetQuery {
  metric: string
  step?: string
  agg?: string
  group_by?: string
  start?: string
  end?: string
  window?: string
  hostname?: string
  model?: string
}

/** Rows (series, t, v) in series and time order → [{ key, points }] in the order of `keys` (then any other). */
function toSeries(rows: readonly { series: string; t: string; v: number }[], keys: readonly string[] = []): { key: string; points: [number, number][] }[] {
  const by = new Map<string, [number, number][]>(keys.map((k) => [k, []]))
  for (const r of rows) {
    let pts = by.get(r.series)
    if (!pts) by.set(r.series, (pts = []))
    pts.push([Number(r.t), r.v])
  }
  return [...by].map(([key, points]) => ({ key, points }))
}

const TIME_DOC = 'RFC 3339 (2025-07-18T20:42:34Z), `now`, or relative to now (`-1h`, `-15m`, `-7d`).'
const timeParams = {
  start: { type: 'string', maxLength: 64, description: `Start of the window: ${TIME_DOC}`, examples: ['-1h'] },
  end: { type: 'string', maxLength: 64, description: `End of the window: ${TIME_DOC}`, examples: ['now'] },
  window: { type: 'string', maxLength: 32, description: 'Window length (`15m`, `1h`, `7d`): alone it ends now; with start or end it extends from it.', examples: ['1h'] },
} as const
const stepParams = {
  step: {
    type: 'string',
    maxLength: 32,
    description:
      'Bucket width (`60s`, `1m`, `5m`, `1h`, `1d`), whole seconds. Whole hours are answered from the hourly rollups (telemetry_1h, longest retention: 30 days at 1h are 720 rows), other whole minutes from the per-minute rollups (telemetry_1m), other steps from the raw rows — unless that table no longer covers the window start (retention), then the next finer table that does. The answer names it in `source`; values are the same whichever answers.',
    examples: ['60s'],
  },
  agg: { type: 'string', enum: ['avg', 'min', 'max', 'last', 'count'], description: 'Aggregate per bucket (default avg).' },
} as const
const filterParams = {
  hostname: { type: 'string', minLength: 1, maxLength: 256, description: 'Only GPUs of this host.', examples: ['mtv5-dgx1-hgpu-031'] },
  model: { type: 'string', minLength: 1, maxLength: 256, description: 'Only GPUs of this model (model_name).', examples: ['NVIDIA H100 80GB HBM3'] },
} as const

interface OpenApiOperation {
  operationId?: string
  parameters?: { in: string }[]
  responses?: Record<string, { content?: Record<string, { example?: unknown }> }>
}
interface OpenApiDocument {
  paths?: Record<string, Record<string, OpenApiOperation>>
}

/** What each error status answers, shown as the example of every documented error response. */
const ERROR_EXAMPLES: Record<string, { error: { code: string; message: string } }> = {
  '400': { error: { code: 'TPIPE_ERR_BAD_PARAMETER', message: 'step: "5x" is not a duration in whole seconds such as 60s, 5m or 1h' } },
  '404': { error: { code: 'TPIPE_ERR_GPU_NOT_FOUND', message: 'no telemetry for GPU GPU-5fd4f087-86f3-7a43-b711-4771313afc50' } },
  '503': { error: { code: 'TPIPE_ERR_DB_UNAVAILABLE', message: 'the database is unavailable; retry later' } },
}

const LIST_400 = { error: { code: 'TPIPE_ERR_BAD_PARAMETER', message: 'limit: must be <= 10000' } }

/**
 * The generated document as readers expect it: path parameters before query parameters (the order of the
 * URL), and an example body on every error response (fastify-swagger lists the querystring first and gives
 * a $ref'd error schema no example).
 */
function documentOrder(doc: OpenApiDocument): OpenApiDocument {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item)) {
      if (op.parameters) op.parameters = [...op.parameters.filter((p) => p.in === 'path'), ...op.parameters.filter((p) => p.in !== 'path')]
      for (const [status, res] of Object.entries(op.responses ?? {})) {
        const media = res.content?.['application/json']
        const example = (op.operationId === 'listGpus' && status === '400' ? LIST_400 : undefined) ?? ERROR_EXAMPLES[status]
        if (media && Number(status) >= 400 && media.example === undefined && example) media.example = example
      }
    }
  }
  return doc
}

/** Turns the schema validator's first complaint into "limit: must be <= 10000". */
function validationMessage(request: FastifyRequest): string | undefined {
  const err = request.validationError as (Error & { validation?: { instancePath?: string; message?: string; params?: Record<string, unknown> }[] }) | undefined
  if (!err) return undefined
  const v = err.validation?.[0]
  if (!v) return err.message
  const name = (v.instancePath ?? '').replace(/^\//, '').split('/')[0] || String(v.params?.missingProperty ?? v.params?.additionalProperty ?? 'parameter')
  return `${name}: ${v.message ?? 'is not valid'}`
}

async function query<R extends object>(pool: Queryable, q: Query): Promise<R[]> {
  try {
    return (await pool.query<R>(q)).rows
  } catch (err) {
    if (isUnavailable(err) || pgCode(err) === PG_ERROR.queryCanceled) {
      throw new TpipeError('TPIPE_ERR_DB_UNAVAILABLE', undefined, { retryAfter: RETRY_AFTER_SECONDS, cause: err })
    }
    // The handlers validate parameters first; should PostgreSQL still refuse one as data (class 22: a
    // time out of range, a character it cannot hold), it is the caller's input: 400, never 500.
    if (pgCode(err) === PG_ERROR.datetimeFieldOverflow || pgCode(err) === PG_ERROR.invalidDatetimeFormat || pgCode(err) === PG_ERROR.invalidTimeZoneDisplacement) {
      throw new TpipeError('TPIPE_ERR_BAD_PARAMETER', `a time parameter is out of range: ${(err as Error).message}`)
    }
    if (isDataError(err)) throw new TpipeError('TPIPE_ERR_BAD_PARAMETER', `a parameter is not valid: ${(err as Error).message}`)
    throw err
  }
}

export interface ApigwApp {
  app: FastifyInstance
  registry: Registry
}

export async function buildApigw(config: ApigwConfig, deps: ApigwDeps): Promise<ApigwApp> {
  const registry = deps.registry ?? createRegistry({ defaultMetrics: config.metricsEnabled })
  // The maintenance loop's retention settings: which table still holds a window (pickSource).
  const retention: Retention = {
    rawMs: config.telemetryRetentionMs ?? SETTINGS.telemetryRetentionMs.default,
    minuteMs: config.rollupRetentionMs ?? SETTINGS.rollupRetentionMs.default,
    hourMs: config.rollup1hRetentionMs ?? SETTINGS.rollup1hRetentionMs.default,
  }
  // Per GPU and metric filter, whether raw pages are read by time or row by row (pageform.ts).
  const pageForms = new PageForms()
  const rawPages = new Counter({
    name: 'apigw_raw_pages_total',
    help: 'Raw telemetry pages answered from JSON text built in PostgreSQL, by the statement form: time (each distinct time formatted once) or row.',
    labelNames: ['form'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'apigw_request_duration_seconds',
    help: 'API request latency by route and status.',
    labelNames: ['route', 'status'] as const,
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  const app = buildServer({
    service: 'apigw',
    logLevel: config.logLevel,
    ...(deps.logger ? { logger: deps.logger } : {}),
    bodyLimitBytes: config.bodyLimitBytes,
    limits: {
      requestTimeoutMs: config.httpRequestTimeoutMs ?? DEFAULT_HTTP_LIMITS.requestTimeoutMs,
      headersTimeoutMs: config.httpHeadersTimeoutMs ?? DEFAULT_HTTP_LIMITS.headersTimeoutMs,
      idleTimeoutMs: config.httpIdleTimeoutMs ?? DEFAULT_HTTP_LIMITS.idleTimeoutMs,
      jsonMaxDepth: config.jsonMaxDepth ?? DEFAULT_HTTP_LIMITS.jsonMaxDepth,
    },
    registry,
    readiness: [
      // Bounded: a hung database must make the probe answer false, not hang the probe.
      { name: 'database', check: () => ping(deps.pool) },
    ],
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'tpipe API',
        // The package's version: what a client reads to know which tpipe answers (paths carry the API's major, v1).
        version: PACKAGE_VERSION,
        description:
          'Read API of the tpipe GPU telemetry pipeline. GPUs are identified by their uuid (GPU-…). Every error answers { "error": { "code", "message" } } with a stable TPIPE_ERR_* code.',
      },
      tags: [
        { name: 'gpus', description: 'GPUs and their telemetry' },
        { name: 'telemetry', description: 'Telemetry across the fleet' },
      ],
    },
    transformObject: (doc) => documentOrder(('openapiObject' in doc ? doc.openapiObject : doc) as OpenApiDocument) as never,
    // Name shared schemas by their $id (ErrorBody, Gpu…) instead of def-0, def-1.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
  })
  await app.register(swaggerUi, { routePrefix: '/swagger' })
  app.addSchema(Gpu)
  app.addSchema(TelemetryRow)
  app.addSchema(latestValueSchema)
  app.addSchema(fleetGpuSchema)
  app.addSchema(telemetryPageSchema)
  app.addSchema(gpuSeriesSchema)

  // The optional read token guards the API only: the dashboard page and its assets, the OpenAPI
  // document, health and metrics stay reachable without it (the dashboard sends it on its API calls).
  const apiAuth = requireToken(config.apiToken, 'TPIPE_API_TOKEN')
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith('/api/')) await apiAuth(request, reply)
  })

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url
    if (route?.startsWith('/api/')) duration.observe({ route, status: String(reply.statusCode) }, reply.elapsedTime / 1000)
  })

  app.get('/openapi.json', { schema: { hide: true } as object }, async () => app.swagger())
  registerDashboard(app, deps.dashboard ?? loadDashboard())
  compressJson(app)

  app.get(
    '/api/v1/gpus',
    {
      attachValidation: true,
      schema: {
        operationId: 'listGpus',
        tags: ['gpus'],
        summary: 'List GPUs, optionally with the latest value of chosen metrics ("top 10 by utilisation")',
        description:
          'Read from the gpus table and the latest-value table, both kept current on ingest: fast whatever the size of telemetry. `metrics` adds `latest`; `sort` orders by the latest value of one metric (GPUs without it last); `hostname` and `model` filter.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            metrics: { type: 'string', minLength: 1, maxLength: 4096, description: 'Comma-separated metric names whose latest value and time to return (at most 50).', examples: ['DCGM_FI_DEV_GPU_UTIL,DCGM_FI_DEV_POWER_USAGE'] },
            ...filterParams,
            sort: { type: 'string', minLength: 1, maxLength: 256, description: 'Order by the latest value of this metric (then hostname, gpu_id).', examples: ['DCGM_FI_DEV_GPU_UTIL'] },
            order: { type: 'string', enum: ['asc', 'desc'], description: 'Sort order with `sort` (default desc: highest first).' },
            limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, description: `At most this many GPUs (1..${MAX_LIMIT}).` },
          },
        },
        response: {
          200: fleetListResponse,
          400: err('A parameter is not valid (TPIPE_ERR_BAD_PARAMETER); the message names it.'),
          503: err('The database is unavailable; retry after Retry-After seconds.'),
        },
      },
    },
    async (request, reply) => {
      const invalid = validationMessage(request)
      if (invalid) throw badParameter(invalid)
      const q = request.query as GpusQuery
      const metrics = q.metrics === undefined ? [] : parseMetricList(q.metrics, 'metrics', 50)
      if (q.order !== undefined && q.sort === undefined) throw badParameter('order: only with sort')
      // The answer's JSON text comes from PostgreSQL (sql.ts fleetLatestJson): no per-GPU objects here.
      const [r] = await query<{ gpus: string | null }>(deps.pool, fleetLatestJson({ hostname: q.hostname, model: q.model, sort: q.sort, order: q.order ?? 'desc', limit: q.limit }, metrics))
      return jsonText(reply, ['{"gpus":[', finishJson(r?.gpus ?? ''), ']}'])
    },
  )

  app.get(
    '/api/v1/gpus/:id/telemetry',
    {
      attachValidation: true,
      schema: {
        operationId: 'getGpuTelemetry',
        tags: ['gpus'],
        summary: 'Telemetry of one GPU: bucketed series (with step) or raw rows one page at a time',
        description:
          'With `step`: one series per metric, aggregated (`agg`) in buckets aligned to the step from the Unix epoch (like Prometheus query_range); every bucket overlapping [start, end] is returned whole; the window defaults to the last hour. Without `step`: rows with start <= ts <= end (both optional) ordered by (ts, msg_uuid) (oldest first; `order=desc`: newest first), at most `limit` per page; pass `next_cursor` back as `cursor` for the next page (null on the last one). Paging is exact even when many rows share a timestamp.',
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string', minLength: 1, maxLength: 256, description: 'GPU uuid (GPU-…)', examples: ['GPU-5fd4f087-86f3-7a43-b711-4771313afc50'] } },
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...timeParams,
            start_time: { type: 'string', maxLength: 64, description: 'Alias of start (inclusive lower bound).' },
            end_time: { type: 'string', maxLength: 64, description: 'Alias of end (inclusive upper bound).' },
            ...stepParams,
            metric: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 100, examples: [['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_GPU_TEMP']], description: 'Only these metric names; repeat the parameter for several. With step and no metric: every metric of the GPU.' },
            limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, description: `Rows per page (1..${MAX_LIMIT}, default ${DEFAULT_LIMIT}); raw pages only.` },
            cursor: { type: 'string', maxLength: 200, description: 'next_cursor of the previous page; raw pages only. It carries the order of the page it came from.' },
            order: { type: 'string', enum: ['asc', 'desc'], description: 'Raw pages only: asc (default) oldest first, desc newest first (the latest rows without knowing their time).' },
            detail: {
              type: 'boolean',
              default: false,
              description: 'Also return container, pod, namespace and labels. Slower on large tables: those columns are not in the index the page is read from.',
            },
          },
        },
        response: {
          200: {
            description: 'Without step: one page of rows in (ts, msg_uuid) order (TelemetryPage). With step: one bucketed series per metric (GpuSeries).',
            anyOf: [{ $ref: 'TelemetryPage#' }, { $ref: 'GpuSeries#' }],
            examples: [
              {
                id: 'GPU-5fd4f087-86f3-7a43-b711-4771313afc50',
                telemetry: [{ ts: '2025-07-18T20:42:34.000000Z', metric_name: 'DCGM_FI_DEV_GPU_UTIL', value: 100, msg_uuid: '0198198a-6b2c-7c3e-9f1a-2b3c4d5e6f70' }],
                next_cursor: 'WyIyMDI1LTA3LTE4VDIwOjQyOjM0LjAwMDAwMFoiLCIwMTk4MTk4YS02YjJjLTdjM2UtOWYxYS0yYjNjNGQ1ZTZmNzAiXQ',
              },
              gpuSeriesExample,
            ],
          },
          400: err('A parameter is not valid (TPIPE_ERR_BAD_PARAMETER); the message names it. Also when step would give more points than the cap.'),
          404: err('No telemetry for that GPU (TPIPE_ERR_GPU_NOT_FOUND).'),
          503: err('The database is unavailable; retry after Retry-After seconds.'),
        },
      },
    },
    async (request, reply) => {
      const invalid = validationMessage(request)
      if (invalid) throw badParameter(invalid)
      const { id } = request.params as { id: string }
      const q = request.query as TelemetryQuery
      const now = Date.now()
      if (q.step !== undefined) return json(reply, await gpuSeriesAnswer(id, q, now))
      if (q.agg !== undefined) throw badParameter('agg: only with step')
      const r = resolveRange(q, now)
      const start = 'open' in r ? (r.start?.text ?? '-infinity') : r.startText
      const end = 'open' in r ? (r.end?.text ?? 'infinity') : r.endText
      let after: { ts: string; msgUuid: string; desc: boolean } | undefined
      if (q.cursor !== undefined) {
        after = decodeCursor(q.cursor)
        if (!after) throw badParameter('cursor: not a cursor this API returned (pass next_cursor back unchanged)')
        if (q.order !== undefined && (q.order === 'desc') !== after.desc) throw badParameter(`order: this cursor continues a page in ${after.desc ? 'desc' : 'asc'} order (omit order, or pass the same)`)
      }
      const desc = after ? after.desc : q.order === 'desc'
      const limit = q.limit ?? DEFAULT_LIMIT
      const page = { id, start, end, metrics: q.metric ?? [], limit, after, desc }
      const notFound = async () => after === undefined && (await query(deps.pool, gpuExists(id))).length === 0
      if (q.detail === true) {
        // Labels and the other heap columns: rows parsed and serialised here (jsonb as JSON.stringify writes it).
        const rows = await query<{ msg_uuid: string; ts: string }>(deps.pool, telemetryPage({ ...page, detail: true }))
        if (rows.length === 0 && (await notFound())) throw new TpipeError('TPIPE_ERR_GPU_NOT_FOUND', `no telemetry for GPU ${id}`)
        const more = rows.length > limit
        if (more) rows.length = limit
        const last = rows[rows.length - 1]
        return json(reply, { id, telemetry: rows, next_cursor: more && last ? encodeCursor(last.ts, last.msg_uuid, desc) : null })
      }
      // The rows' JSON text comes from PostgreSQL (sql.ts telemetryPageJson): limit + 1 rows at most.
      const shape = page.metrics.length ? `${id}\n${page.metrics.join('\n')}` : id
      const byTime = pageForms.byTime(shape)
      const [agg] = await query<{ n: number; times: number | null; rows: string | null }>(deps.pool, telemetryPageJson(page, byTime))
      if (byTime && agg) pageForms.observe(shape, agg.n, agg.times ?? 0)
      rawPages.inc({ form: byTime ? 'time' : 'row' })
      if (!agg || agg.n === 0) {
        if (await notFound()) throw new TpipeError('TPIPE_ERR_GPU_NOT_FOUND', `no telemetry for GPU ${id}`)
        return jsonText(reply, `{"id":${JSON.stringify(id)},"telemetry":[],"next_cursor":null}`)
      }
      let rows = agg.rows ?? ''
      let next: string | null = null
      if (agg.n > limit) {
        // Drop the extra row; the cursor is the (ts, msg_uuid) of the last one kept. Row texts start with
        // '{"msg_uuid":"<36-character uuid>","ts":"<ts>"': the sequence cannot occur inside a JSON string.
        rows = rows.slice(0, rows.lastIndexOf(ROW_START_AFTER_COMMA))
        const at = rows.lastIndexOf(ROW_START) + ROW_START.length
        const tsAt = at + 36 + TS_KEY.length
        next = encodeCursor(rows.slice(tsAt, rows.indexOf('"', tsAt)), rows.slice(at, at + 36), desc)
      }
      return jsonText(reply, [`{"id":${JSON.stringify(id)},"telemetry":[`, finishJson(rows), `],"next_cursor":${next === null ? 'null' : JSON.stringify(next)}}`])
    },
  )

  async function gpuSeriesAnswer(id: string, q: TelemetryQuery, now: number) {
    for (const name of ['limit', 'cursor', 'order'] as const) if (q[name] !== undefined) throw badParameter(`${name}: only without step (raw pages)`)
    if (q.detail === true) throw badParameter('detail: only without step (raw pages)')
    const stepSeconds = parseStep(q.step!)
    const agg = parseAgg(q.agg)
    const range = resolveRange(q, now, DEFAULT_WINDOW_MS) as Range
    if ((await query(deps.pool, gpuExists(id))).length === 0) throw new TpipeError('TPIPE_ERR_GPU_NOT_FOUND', `no telemetry for GPU ${id}`)
    const metrics = q.metric?.length ? [...new Set(q.metric)] : (await query<{ metric_name: string }>(deps.pool, gpuMetrics(id))).map((r) => r.metric_name)
    const b = buckets(range, stepSeconds, metrics.length)
    const source = pickSource(stepSeconds, b.fromS, now, retention)
    const rows = metrics.length ? await query<{ series: string; t: string; v: number }>(deps.pool, gpuSeries(id, metrics, { agg, ...b, source })) : []
    return {
      gpu: id,
      step_seconds: stepSeconds,
      agg,
      source,
      start: new Date(range.startMs).toISOString(),
      end: new Date(range.endMs).toISOString(),
      series: toSeries(rows, metrics).map((x) => ({ metric: x.key, points: x.points })),
    }
  }

  app.get(
    '/api/v1/telemetry',
    {
      attachValidation: true,
      schema: {
        operationId: 'getFleetTelemetry',
        tags: ['telemetry'],
        summary: 'One metric across the fleet, bucketed and grouped by GPU, host or model',
        description:
          'Buckets as in /api/v1/gpus/{id}/telemetry with step (aligned to the step, whole buckets overlapping the window, empty buckets omitted); one series per group. GPUs are grouped by their current hostname and model (the gpus table). Sources as for that endpoint: whole hours read the hourly rollups, other whole minutes the per-minute rollups, other steps the raw rows (see `step`).',
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['metric'],
          properties: {
            metric: { type: 'string', minLength: 1, maxLength: 256, description: 'The metric (e.g. DCGM_FI_DEV_GPU_UTIL).', examples: ['DCGM_FI_DEV_POWER_USAGE'] },
            ...stepParams,
            group_by: { type: 'string', enum: ['gpu', 'hostname', 'model'], description: 'One series per GPU (uuid), per host or per model (default gpu).' },
            ...timeParams,
            ...filterParams,
          },
        },
        response: {
          200: fleetSeriesResponse,
          400: err('A parameter is not valid (TPIPE_ERR_BAD_PARAMETER); the message names it. Also when step would give more points than the cap.'),
          503: err('The database is unavailable; retry after Retry-After seconds.'),
        },
      },
    },
    async (request, reply) => {
      const invalid = validationMessage(request)
      if (invalid) throw badParameter(invalid)
      const q = request.query as FleetQuery
      const stepSeconds = parseStep(q.step ?? '60s')
      const agg = parseAgg(q.agg)
      const groupBy = parseGroupBy(q.group_by)
      const now = Date.now()
      const range = resolveRange(q, now, DEFAULT_WINDOW_MS) as Range
      const filter = { hostname: q.hostname, model: q.model }
      const groups = (await query<{ n: number }>(deps.pool, fleetGroupCount(groupBy, filter)))[0]?.n ?? 0
      const b = buckets(range, stepSeconds, groups)
      const source = pickSource(stepSeconds, b.fromS, now, retention)
      const rows = groups ? await query<{ series: string; t: string; v: number }>(deps.pool, fleetSeries(q.metric, groupBy, filter, { agg, ...b, source })) : []
      return json(reply, {
        metric: q.metric,
        step_seconds: stepSeconds,
        agg,
        source,
        group_by: groupBy,
        start: new Date(range.startMs).toISOString(),
        end: new Date(range.endMs).toISOString(),
        series: toSeries(rows).map((x) => ({ group: x.key, points: x.points })),
      })
    },
  )

  return { app, registry }
}

/** A pool for building the app without a database (spec generation): every query fails. */
export const NO_DATABASE: Queryable = {
  query: () => Promise.reject(new Error('no database: this apigw instance only generates the OpenAPI document')),
}

/** The OpenAPI document the routes generate, as committed in docs/openapi.json. */
export async function generateOpenApi(): Promise<Record<string, unknown>> {
  const { app } = await buildApigw({ logLevel: 'silent', bodyLimitBytes: 1048576, metricsEnabled: false }, { pool: NO_DATABASE, logger: pino({ level: 'silent' }) })
  await app.ready()
  const spec = app.swagger() as Record<string, unknown>
  await app.close()
  return spec
}

/**
 * Sends an answer serialised with JSON.stringify instead of the route's response schema. The schema
 * serialiser (fast-json-stringify) must pick a branch of the telemetry route's anyOf by validating the
 * whole answer first, and walks every row and point through generated code: 1,000 rows or 1,440 points
 * took it ~8 ms of the apigw's single thread, several times the database's part (measured on the
 * 50M-row bench table). The answers are built here from the SQL's named columns, so their shape is the
 * schema's (the OpenAPI tests check the answers against it).
 */
function json(reply: FastifyReply, body: unknown): FastifyReply {
  return jsonText(reply, JSON.stringify(body))
}

const answers = new AnswerBuffers()

/** Sends JSON text built elsewhere (PostgreSQL, for the page and fleet answers); large ones from reusable buffers (answer.ts). */
function jsonText(reply: FastifyReply, text: string | readonly string[]): FastifyReply {
  return answers.send(reply.type('application/json; charset=utf-8'), text)
}

const ROW_START = '{"msg_uuid":"'
const ROW_START_AFTER_COMMA = `,${ROW_START}`
const TS_KEY = '","ts":"'
