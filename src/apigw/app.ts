// apigw: the read API over the telemetry and gpus tables (REST, OpenAPI from the route schemas, Swagger
// UI). Owns nothing but its routes and metrics; must never write: the collector writes telemetry and
// the trigger of migration 1764201800000 maintains gpus.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { pino, type Logger } from 'pino'
import type { Config } from '../config/index.js'
import { isDataError, isUnavailable, pgCode, PG_ERROR } from '../db/errors.js'
import { ping } from '../db/pool.js'
import { TpipeError } from '../errors.js'
import { requireToken } from '../http/auth.js'
import { buildServer, DEFAULT_HTTP_LIMITS } from '../http/server.js'
import { Histogram, createRegistry, type Registry } from '../metrics/index.js'
import { Gpu, GpuList, TelemetryPage, TelemetryRow } from '../protocol/apigw.js'
import { decodeCursor, encodeCursor, isRfc3339 } from './cursor.js'
import { compressJson } from './compress.js'
import { loadDashboard, registerDashboard, type DashboardFiles } from './dashboard.js'
import { gpuExists, listGpus, telemetryPage, type Query } from './sql.js'

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
  Partial<Pick<Config, 'apiToken' | 'httpRequestTimeoutMs' | 'httpHeadersTimeoutMs' | 'httpIdleTimeoutMs' | 'jsonMaxDepth'>>

export const DEFAULT_LIMIT = 1000
export const MAX_LIMIT = 10000
const RETRY_AFTER_SECONDS = 1

const err = (description: string) => ({ description, $ref: 'ErrorBody#' }) as const

interface TelemetryQuery {
  start_time?: string
  end_time?: string
  metric?: string[]
  limit?: number
  cursor?: string
  detail?: boolean
}

function badParameter(message: string): TpipeError {
  return new TpipeError('TPIPE_ERR_BAD_PARAMETER', message)
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
        version: '1',
        description:
          'Read API of the tpipe GPU telemetry pipeline. GPUs are identified by their uuid (GPU-…). Every error answers { "error": { "code", "message" } } with a stable TPIPE_ERR_* code.',
      },
      tags: [{ name: 'gpus', description: 'GPUs and their telemetry' }],
    },
    // Name shared schemas by their $id (ErrorBody, Gpu…) instead of def-0, def-1.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
  })
  await app.register(swaggerUi, { routePrefix: '/swagger' })
  app.addSchema(Gpu)
  app.addSchema(TelemetryRow)

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
      schema: {
        tags: ['gpus'],
        summary: 'List every GPU that has telemetry',
        description: 'Read from the gpus table, kept current by a trigger on telemetry: fast whatever the size of the telemetry table.',
        response: {
          200: GpuList,
          503: err('The database is unavailable; retry after Retry-After seconds.'),
        },
      },
    },
    async (): Promise<GpuList> => ({ gpus: await query<Gpu>(deps.pool, listGpus()) }),
  )

  app.get(
    '/api/v1/gpus/:id/telemetry',
    {
      attachValidation: true,
      schema: {
        tags: ['gpus'],
        summary: 'Telemetry of one GPU, in time order, one page at a time',
        description:
          'Rows with start_time <= ts <= end_time (both optional, RFC 3339), ordered by (ts, msg_uuid). At most `limit` rows per page; pass `next_cursor` back as `cursor` for the next page (null on the last one). Paging is exact even when many rows share a timestamp.',
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string', minLength: 1, maxLength: 256, description: 'GPU uuid (GPU-…)' } },
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            start_time: { type: 'string', format: 'date-time', description: 'Inclusive lower bound (RFC 3339).' },
            end_time: { type: 'string', format: 'date-time', description: 'Inclusive upper bound (RFC 3339).' },
            metric: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 100, description: 'Only these metric names; repeat the parameter for several.' },
            limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: `Rows per page (1..${MAX_LIMIT}).` },
            cursor: { type: 'string', maxLength: 200, description: 'next_cursor of the previous page.' },
            detail: {
              type: 'boolean',
              default: false,
              description: 'Also return container, pod, namespace and labels. Slower on large tables: those columns are not in the index the page is read from.',
            },
          },
        },
        response: {
          200: TelemetryPage,
          400: err('A parameter is not valid (TPIPE_ERR_BAD_PARAMETER); the message names it.'),
          404: err('No telemetry for that GPU (TPIPE_ERR_GPU_NOT_FOUND).'),
          503: err('The database is unavailable; retry after Retry-After seconds.'),
        },
      },
    },
    async (request) => {
      const invalid = validationMessage(request)
      if (invalid) throw badParameter(invalid)
      const { id } = request.params as { id: string }
      const q = request.query as TelemetryQuery
      for (const name of ['start_time', 'end_time'] as const) {
        const v = q[name]
        if (v !== undefined && !isRfc3339(v)) throw badParameter(`${name}: ${JSON.stringify(v)} is not an RFC 3339 time such as 2025-07-18T20:42:34Z`)
      }
      if (q.start_time && q.end_time && Date.parse(q.start_time) > Date.parse(q.end_time)) {
        throw badParameter(`start_time ${q.start_time} is after end_time ${q.end_time}`)
      }
      let after: { ts: string; msgUuid: string } | undefined
      if (q.cursor !== undefined) {
        after = decodeCursor(q.cursor)
        if (!after) throw badParameter('cursor: not a cursor this API returned (pass next_cursor back unchanged)')
      }
      const limit = q.limit ?? DEFAULT_LIMIT
      const rows = await query<TelemetryRow>(
        deps.pool,
        telemetryPage({ id, start: q.start_time ?? '-infinity', end: q.end_time ?? 'infinity', metrics: q.metric ?? [], limit, after, detail: q.detail === true }),
      )
      if (rows.length === 0 && after === undefined && (await query(deps.pool, gpuExists(id))).length === 0) {
        throw new TpipeError('TPIPE_ERR_GPU_NOT_FOUND', `no telemetry for GPU ${id}`)
      }
      const more = rows.length > limit
      if (more) rows.length = limit
      const last = rows[rows.length - 1]
      const page: TelemetryPage = { id, telemetry: rows, next_cursor: more && last ? encodeCursor(last.ts, last.msg_uuid) : null }
      return page
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
