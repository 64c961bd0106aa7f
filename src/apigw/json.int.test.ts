// The raw page and the fleet listing are JSON text built in PostgreSQL (sql.ts telemetryPageJson,
// fleetLatestJson) and finished in json.ts. These tests pin that text byte-for-byte to what the apigw
// answered before: JSON.stringify over the rows node-pg parses from the row queries (telemetryPage;
// the GPUs' rows + the per-GPU latest values), on real PostgreSQL, for awkward strings, numbers and times.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { buildApigw } from './app.js'
import { encodeCursor } from './cursor.js'
import { finishJson, jsonNumberText } from './json.js'
import { metricValue, type Registry } from '../metrics/index.js'
import { fleetLatestJson, METRIC_PROBES_MAX, jsonNumber, telemetryPage, telemetryPageJson, type FleetLatest, type TelemetryPage } from './sql.js'

const silent = pino({ level: 'silent' })
const CONFIG = { logLevel: 'silent' as const, bodyLimitBytes: 1048576, metricsEnabled: false }

// Strings JSON must escape (quote, backslash, every control character but NUL, which text cannot hold),
// and some it must not (slash, DEL, U+2028/2029, non-BMP characters, CJK, combining marks).
const CONTROL = Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join('')
const AWKWARD = [`q"b\\s/${CONTROL}\x7f`, 'line\u2028sep\u2029x', 'emoji 🎛️ 𝄞 GPU', '温度 température', 'e\u0301 <>&\'', '{"nested": {"json": [1, 2]}}', 'plain']

// Numbers where PostgreSQL's float8 text and JavaScript's differ or nearly do, and edges of the range
// PostgreSQL's text is used as is.
const EDGE = [
  0, 1, -1, 0.1 + 0.2, 123.456, -98.7654321, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e15, 1e15 - 0.5, 999999999999999.9, 1e16, 123456789012345680000,
  1e21, -1e21, 1.5e21, 1e22, 1e100, 1.7976931348623157e308, 1e-4, 0.00010000000000000002, 0.00009999999999999999, 1e-5, -1.5e-5, 1e-6, 1e-7,
  1.2345e-7, 1e-9, 1e-10, 5e-324, 2.2250738585072014e-308, 0.5, 100, 1e14, 99999.99999, 3.14159e-4,
]

/** Random doubles over the whole range (random bit patterns, NaN skipped) and telemetry-like decimals. */
function randomDoubles(n: number): number[] {
  const out: number[] = []
  const view = new DataView(new ArrayBuffer(8))
  while (out.length < n) {
    for (let i = 0; i < 8; i++) view.setUint8(i, Math.floor(Math.random() * 256))
    const bits = view.getFloat64(0)
    if (Number.isFinite(bits)) out.push(bits)
    out.push(Math.round(Math.random() * 1e6) / 10 ** Math.floor(Math.random() * 8)) // 0.0000001 .. 1,000,000
    out.push(Math.random() * 10 ** (Math.floor(Math.random() * 40) - 20))
  }
  return out
}

let db: TestDatabase
let app: FastifyInstance
let registry: Registry

beforeAll(async () => {
  db = await createTestDatabase()
  ;({ app, registry } = await buildApigw(CONFIG, { pool: db.pool, logger: silent }))
})
afterAll(async () => {
  await app?.close()
  await db?.drop()
})

describe('float8 as JSON text (jsonNumber + finishJson)', () => {
  it('equals JSON.stringify of the number node-pg parses from the float8 text, for edge and random values, whatever extra_float_digits', async () => {
    const values = [...EDGE, ...EDGE.map((v) => -v), ...randomDoubles(6000)]
    const client = await db.pool.connect()
    try {
      for (const digits of [1, 0, 3, -2]) {
        await client.query(`SET extra_float_digits = ${digits}`)
        // -0, NaN and the infinities cannot travel in a JavaScript array parameter: spelled in SQL.
        const { rows } = await client.query<{ old: string | null; new: string }>({
          text: `SELECT v::text AS old, ${jsonNumber('v')} AS new
                 FROM (SELECT unnest($1::float8[]) AS v UNION ALL SELECT x::float8 FROM unnest('{-0,NaN,Infinity,-Infinity}'::text[]) AS x) AS s`,
          values: [values.map((v) => String(v))],
        })
        expect(rows).toHaveLength(values.length + 4)
        const mismatches = rows.filter((r) => finishJson(r.new) !== JSON.stringify(parseFloat(r.old!)))
        expect(mismatches.slice(0, 5)).toEqual([])
        // The marked (converted in JavaScript) ones are the exponent forms, the non-finite and |v| >= 999999999999999, not the common values.
        if (digits === 1) {
          const marked = new Set(rows.filter((r) => r.new.includes('\x01')).map((r) => r.old))
          expect([...marked].filter((t) => !/e|NaN|Infinity/.test(t!) && Math.abs(parseFloat(t!)) < 999999999999999)).toEqual([])
          for (const t of ['123.456', '100', '0.5', '99999.99999']) expect(marked.has(t)).toBe(false)
        }
      }
      expect(jsonNumberText(-0)).toBe('0')
      expect(finishJson('[\x01-0\x01,\x01NaN\x01,\x011e+21\x01,\x011e-07\x01,\x011e+15\x01]')).toBe('[0,null,1e+21,1e-7,1000000000000000]')
    } finally {
      await client.query('RESET extra_float_digits')
      client.release()
    }
  })
})

describe('raw page as JSON text', () => {
  const GPU = 'GPU-json-0'
  const BASE = Date.parse('2026-03-01T12:00:00Z')
  // Timestamps on whole seconds, with milliseconds, with microseconds; several rows sharing one.
  const TS = ['2026-03-01T12:00:00Z', '2026-03-01T12:00:00.5Z', '2026-03-01T12:00:01.123Z', '2026-03-01T12:00:01.123456Z', '2026-03-01T12:00:02.000001Z', '2026-03-01T12:00:02.999999Z']

  beforeAll(async () => {
    const rows: unknown[][] = []
    let i = 0
    for (const ts of TS) {
      for (const metric of AWKWARD) {
        rows.push([randomUUID(), metric, String(EDGE[i % EDGE.length]! * (i % 2 ? -1 : 1)), ts])
        i++
      }
    }
    // Values JSON cannot hold (null in the answer, as JSON.stringify writes them) and -0 (0).
    for (const v of ['NaN', 'Infinity', '-Infinity', '-0']) rows.push([randomUUID(), 'special', v, new Date(BASE + 5000).toISOString()])
    await db.pool.query({
      text: `INSERT INTO telemetry (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts, labels)
             SELECT r[1]::uuid, $1, 0, 'nvidia0', 'json-host', 'H100', r[2], r[3]::float8, r[4]::timestamptz, '{"a": "ü\\u0001", "n": [1, {"b": null}]}'::jsonb
             FROM (SELECT ARRAY[a, b, c, d] AS r FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(a, b, c, d)) AS x`,
      values: [GPU, ...[0, 1, 2, 3].map((k) => rows.map((r) => r[k]))],
    })
  })

  /** The answer as the apigw built it before: node-pg's rows of telemetryPage, JSON.stringify. */
  async function reference(p: Omit<TelemetryPage, 'id' | 'start' | 'end'>, start = '-infinity', end = 'infinity', id = GPU): Promise<string> {
    const rows = (await db.pool.query(telemetryPage({ id, start, end, ...p }))).rows as { msg_uuid: string; ts: string }[]
    const more = rows.length > p.limit
    if (more) rows.length = p.limit
    const last = rows[rows.length - 1]
    return JSON.stringify({ id, telemetry: rows, next_cursor: more && last ? encodeCursor(last.ts, last.msg_uuid, p.desc === true) : null })
  }

  /** Reads a GPU's pages through the API, following next_cursor, each checked against the reference; returns how many. */
  async function walkPages(id: string, limit: number, order: 'asc' | 'desc', metric?: string): Promise<number> {
    let pages = 0
    let cursor: string | undefined
    let after: { ts: string; msgUuid: string } | undefined
    do {
      const qs = new URLSearchParams({ limit: String(limit), order })
      if (metric) qs.set('metric', metric)
      if (cursor) qs.set('cursor', cursor)
      const res = await app.inject(`/api/v1/gpus/${id}/telemetry?${qs}`)
      expect(res.statusCode).toBe(200)
      expect(res.body).toBe(await reference({ metrics: metric ? [metric] : [], limit, desc: order === 'desc', after }, '-infinity', 'infinity', id))
      cursor = res.json().next_cursor ?? undefined
      if (cursor) {
        const [ts, msgUuid] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [string, string]
        after = { ts, msgUuid }
      }
      pages++
    } while (cursor)
    return pages
  }

  it('answers every page, in both orders, with and without a metric filter, byte-for-byte as JSON.stringify of the rows did', async () => {
    let pages = 0
    for (const order of ['asc', 'desc'] as const) {
      for (const metric of [undefined, 'special', AWKWARD[0]!]) {
        for (const limit of [1, 7, 1000]) pages += await walkPages(GPU, limit, order, metric)
      }
    }
    expect(pages).toBeGreaterThan(100)
  })

  it('gives the same text by time and row by row, for rows sharing times and rows with their own', async () => {
    // A second GPU whose rows each have their own time (the CSV streamer's shape): the apigw reads its pages
    // row by row after the first (pageform.ts), the first GPU's by time; both must be the bytes of the reference.
    const LONE = 'GPU-json-lone'
    await db.pool.query({
      text: `INSERT INTO telemetry (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts, labels)
             SELECT gen_random_uuid(), $1, 1, 'nvidia1', 'json-host', 'H100', ($2::text[])[(i % 7) + 1], i * 1.25, $3::timestamptz + i * interval '1001 microseconds', '{}'::jsonb
             FROM generate_series(0, 299) AS i`,
      values: [LONE, AWKWARD, '2026-03-01T12:00:00Z'],
    })
    const pageOf = (id: string, limit: number, desc: boolean) => ({ id, start: '-infinity', end: 'infinity', metrics: [], limit, desc })
    for (const [id, times] of [[GPU, TS.length + 1], [LONE, 300]] as const) {
      for (const desc of [false, true]) {
        const rowByRow = (await db.pool.query(telemetryPageJson(pageOf(id, 1000, desc), false))).rows[0]
        const byTime = (await db.pool.query(telemetryPageJson(pageOf(id, 1000, desc), true))).rows[0]
        expect(byTime.rows).toBe(rowByRow.rows)
        expect([byTime.n, byTime.times, rowByRow.times]).toEqual([rowByRow.n, times, null])
      }
    }
    // Through the API, page after page, in both orders: the reference's bytes whichever form answers.
    for (const order of ['asc', 'desc'] as const) expect(await walkPages(LONE, 40, order)).toBe(8)
    // The LONE GPU's pages after its first were read row by row (pageform.ts), the others' by time.
    expect(await metricValue(registry, 'apigw_raw_pages_total', { form: 'row' })).toBe(15)
  })

  it('answers a window, an empty window and an unknown GPU as before', async () => {
    const window = await app.inject(`/api/v1/gpus/${GPU}/telemetry?start=2026-03-01T12:00:00.5Z&end=2026-03-01T12:00:01.123456Z&limit=5`)
    expect(window.body).toBe(await reference({ metrics: [], limit: 5 }, '2026-03-01T12:00:00.5Z', '2026-03-01T12:00:01.123456Z'))
    expect(window.json().telemetry.map((r: { ts: string }) => r.ts)).toContain('2026-03-01T12:00:00.500000Z')
    const empty = await app.inject(`/api/v1/gpus/${GPU}/telemetry?start=2027-01-01T00:00:00Z`)
    expect(empty.body).toBe(`{"id":"${GPU}","telemetry":[],"next_cursor":null}`)
    const unknown = await app.inject('/api/v1/gpus/GPU-json-none/telemetry')
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json().error.code).toBe('TPIPE_ERR_GPU_NOT_FOUND')
  })

  it('keeps detail=true (labels as JSON.stringify writes the parsed jsonb) on the row path', async () => {
    const res = await app.inject(`/api/v1/gpus/${GPU}/telemetry?detail=true&metric=special`)
    const rows = (await db.pool.query(telemetryPage({ id: GPU, start: '-infinity', end: 'infinity', metrics: ['special'], limit: 1000, detail: true }))).rows
    expect(res.body).toBe(JSON.stringify({ id: GPU, telemetry: rows, next_cursor: null }))
    expect(res.json().telemetry[0].labels).toEqual({ a: 'ü\u0001', n: [1, { b: null }] })
  })
})

describe('fleet listing as JSON text', () => {
  const METRICS = [...AWKWARD.slice(0, 4), 'DCGM_FI_DEV_GPU_UTIL']
  const MANY = [...METRICS, ...Array.from({ length: METRIC_PROBES_MAX }, (_, i) => `absent-${i}`)].reverse()

  beforeAll(async () => {
    // GPUs with awkward attributes; latest values with edge numbers and times; one GPU without any.
    for (const [i, name] of AWKWARD.entries()) {
      const uuid = `GPU-fleetjson-${i}`
      await db.pool.query(
        `INSERT INTO gpus (gpu_uuid, hostname, gpu_id, device, model_name, last_seen) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (gpu_uuid) DO UPDATE SET hostname = EXCLUDED.hostname`,
        [uuid, `${name} host`, i, `nvidia${i}`, `model ${AWKWARD[(i + 3) % AWKWARD.length]}`, new Date(Date.parse('2026-03-01T12:00:00Z') + i * 1234.567).toISOString()],
      )
      if (i === AWKWARD.length - 1) continue
      for (const [k, metric] of METRICS.entries()) {
        if ((i + k) % 4 === 3) continue // some GPUs lack some metrics
        await db.pool.query(`INSERT INTO telemetry_latest (gpu_uuid, metric_name, value, ts, msg_uuid) VALUES ($1, $2, $3::float8, $4, $5)`, [
          uuid,
          metric,
          k === 4 && i === 2 ? '-0' : String(EDGE[(i * 5 + k) % EDGE.length]! * (k % 2 ? -1 : 1)),
          `2026-03-01T12:00:0${k}.${'123456'.slice(0, i % 7)}Z`,
          randomUUID(),
        ])
      }
    }
  })

  /** The GPUs as rows, in the listing's order: the statement the apigw ran before the answer was built in PostgreSQL. */
  function fleetRows(p: FleetLatest): { text: string; values: unknown[] } {
    const values: unknown[] = []
    let join = ''
    let order = 'g.hostname, g.gpu_id, g.gpu_uuid'
    if (p.sort !== undefined) {
      values.push(p.sort)
      join = ` LEFT JOIN telemetry_latest AS s ON s.gpu_uuid = g.gpu_uuid AND s.metric_name = $${values.length}`
      order = `s.value ${p.order === 'asc' ? 'ASC' : 'DESC'} NULLS LAST, ${order}`
    }
    let where = ''
    if (p.hostname !== undefined) {
      values.push(p.hostname)
      where += ` AND g.hostname = $${values.length}`
    }
    let limit = ''
    if (p.limit !== undefined) {
      values.push(p.limit)
      limit = ` LIMIT $${values.length}`
    }
    const text = `SELECT g.gpu_uuid AS id, g.hostname, g.gpu_id, g.device, g.model_name,
                         to_char(g.last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS last_seen
                  FROM gpus AS g${join} WHERE true${where} ORDER BY ${order}${limit}`
    return { text, values }
  }

  /** The answer as the apigw built it before: the GPUs' rows, each GPU's latest values joined in JavaScript. */
  async function reference(qs: { sort?: string; order?: 'asc' | 'desc'; hostname?: string; limit?: number }, metrics: string[]): Promise<string> {
    const rows = (await db.pool.query(fleetRows({ ...qs, order: qs.order ?? 'desc' }))).rows as { id: string; latest?: Record<string, unknown> }[]
    if (metrics.length && rows.length) {
      const byId = new Map<string, Record<string, unknown>>()
      for (const r of rows) byId.set(r.id, (r.latest = {}))
      const values = await db.pool.query(
        `SELECT l.gpu_uuid AS id, l.metric_name, l.value, to_char(l.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ts
         FROM telemetry_latest AS l WHERE l.gpu_uuid = ANY($1::text[]) AND l.metric_name = ANY($2::text[]) ORDER BY l.gpu_uuid, l.metric_name COLLATE "C"`,
        [[...byId.keys()], metrics],
      )
      for (const v of values.rows) byId.get(v.id)![v.metric_name] = { value: v.value, ts: v.ts }
    }
    return JSON.stringify({ gpus: rows })
  }

  it('answers with and without metrics, sorted either way, filtered and limited, byte-for-byte as before', async () => {
    const cases: { qs: Record<string, string>; metrics: string[] }[] = [
      { qs: {}, metrics: [] },
      { qs: { metrics: METRICS.join(',') }, metrics: METRICS },
      { qs: { metrics: METRICS.join(','), sort: 'DCGM_FI_DEV_GPU_UTIL' }, metrics: METRICS },
      { qs: { metrics: METRICS.join(','), sort: AWKWARD[1]!, order: 'asc' }, metrics: METRICS },
      { qs: { metrics: 'DCGM_FI_DEV_GPU_UTIL', sort: 'DCGM_FI_DEV_GPU_UTIL', limit: '3' }, metrics: ['DCGM_FI_DEV_GPU_UTIL'] },
      // Sorted by a metric it does not return, and metrics asked in reverse code-point order.
      { qs: { metrics: [...METRICS.slice(1)].reverse().join(','), sort: AWKWARD[0]!, order: 'asc' }, metrics: METRICS.slice(1) },
      { qs: { metrics: METRICS.join(','), sort: 'nothing-has-this' }, metrics: METRICS },
      // More metrics than are probed one by one: the per-GPU aggregate answers, byte-for-byte the same.
      { qs: { metrics: MANY.join(','), sort: AWKWARD[2]! }, metrics: MANY },
      { qs: { metrics: 'nothing-has-this' }, metrics: ['nothing-has-this'] },
      // Up to METRIC_PROBES_MAX metrics with the sort metric among them: joined to the choice without a limit
      // (also under a filter), probed per chosen GPU with one.
      { qs: { metrics: METRICS.slice(0, METRIC_PROBES_MAX).join(','), sort: AWKWARD[1]!, order: 'asc' }, metrics: METRICS.slice(0, METRIC_PROBES_MAX) },
      { qs: { metrics: METRICS.slice(1).join(','), sort: 'DCGM_FI_DEV_GPU_UTIL', hostname: `${AWKWARD[2]} host` }, metrics: METRICS.slice(1) },
      { qs: { metrics: METRICS.slice(1).join(','), sort: 'DCGM_FI_DEV_GPU_UTIL', limit: '2' }, metrics: METRICS.slice(1) },
      { qs: { hostname: `${AWKWARD[0]} host`, metrics: METRICS.join(',') }, metrics: METRICS },
      { qs: { hostname: 'no such host', metrics: METRICS.join(',') }, metrics: METRICS },
    ]
    for (const c of cases) {
      const res = await app.inject(`/api/v1/gpus?${new URLSearchParams(c.qs)}`)
      expect(res.statusCode, JSON.stringify(c.qs)).toBe(200)
      const qs = { sort: c.qs.sort, order: c.qs.order as 'asc' | 'desc' | undefined, hostname: c.qs.hostname, limit: c.qs.limit ? Number(c.qs.limit) : undefined }
      expect(res.body, JSON.stringify(c.qs)).toBe(await reference(qs, c.metrics))
      // Both ways of reading the latest values (a probe per metric, an aggregate per GPU) give the same text.
      const [joined, aggregated] = await Promise.all(
        [99, 0].map(async (probesMax) => (await db.pool.query(fleetLatestJson({ ...qs, order: qs.order ?? 'desc' }, c.metrics, probesMax))).rows[0].gpus as string | null),
      )
      expect(joined, JSON.stringify(c.qs)).toBe(aggregated)
    }
    const all = (await app.inject(`/api/v1/gpus?metrics=${encodeURIComponent(METRICS.join(','))}`)).json().gpus as { id: string; latest: Record<string, { value: number }> }[]
    expect(all.find((g) => g.id === `GPU-fleetjson-${AWKWARD.length - 1}`)?.latest).toEqual({})
    expect(Object.is(all.find((g) => g.id === 'GPU-fleetjson-2')?.latest.DCGM_FI_DEV_GPU_UTIL?.value, 0)).toBe(true)
  })

  it('answers metric names a JavaScript object could not hold as keys in code-point order of the names (the old join lost __proto__ and put 10 first)', async () => {
    const values = new Map([['__proto__', 1], ['10', 2], ['9', 3]])
    for (const [metric, value] of values) {
      await db.pool.query(`INSERT INTO telemetry_latest (gpu_uuid, metric_name, value, ts, msg_uuid) VALUES ('GPU-fleetjson-6', $1, $2, '2026-03-01T12:00:00Z', $3)`, [metric, value, randomUUID()])
    }
    const res = await app.inject('/api/v1/gpus?metrics=__proto__,10,9&hostname=plain%20host')
    const order = (await db.pool.query("SELECT m FROM unnest('{__proto__,10,9}'::text[]) AS m ORDER BY m COLLATE \"C\"")).rows.map((r) => r.m as string)
    const entry = (m: string) => `${JSON.stringify(m)}:{"value":${values.get(m)},"ts":"2026-03-01T12:00:00.000000Z"}`
    expect(res.body).toContain(`"latest":{${order.map(entry).join(',')}}`)
  })

  it('orders keys by code point, not by UTF-16 unit (U+FF5E before an astral character), both ways; a lone surrogate names U+FFFD', async () => {
    const names = ['z\u{1F600}', 'z\uFF5E', 'y\uFFFD']
    for (const [k, metric] of names.entries()) {
      await db.pool.query(`INSERT INTO telemetry_latest (gpu_uuid, metric_name, value, ts, msg_uuid) VALUES ('GPU-fleetjson-6', $1, $2, '2026-03-01T12:00:00Z', $3)`, [metric, k + 1, randomUUID()])
    }
    const entry = (m: string, v: number) => `${JSON.stringify(m)}:{"value":${v},"ts":"2026-03-01T12:00:00.000000Z"}`
    const want = `"latest":{${[entry('y\uFFFD', 3), entry('z\uFF5E', 2), entry('z\u{1F600}', 1)].join(',')}}`
    const res = await app.inject(`/api/v1/gpus?metrics=${encodeURIComponent(names.join(','))}&hostname=plain%20host`)
    expect(res.body).toContain(want)
    for (const probesMax of [99, 0]) {
      // Called directly (HTTP cannot carry a lone surrogate): 'y\uD800' is the row PostgreSQL matches, 'y\uFFFD'.
      const q = fleetLatestJson({ hostname: 'plain host', order: 'desc' }, ['z\u{1F600}', 'y\uD800', 'z\uFF5E'], probesMax)
      expect((await db.pool.query(q)).rows[0].gpus as string, `probesMax ${probesMax}`).toContain(want)
    }
  })

  it('answers a GPU whose attributes changed with the new ones (gpus_json is rewritten when they change), and a GPU missing from gpus_json', async () => {
    await db.pool.query(`UPDATE gpus SET hostname = $1, model_name = 'renamed "model"', gpu_id = 42 WHERE gpu_uuid = 'GPU-fleetjson-3'`, ['moved\nhost \u{1F600}'])
    await db.pool.query(`UPDATE gpus SET last_seen = last_seen + interval '1 hour' WHERE gpu_uuid = 'GPU-fleetjson-4'`)
    await db.pool.query(`DELETE FROM gpus_json WHERE gpu_uuid = 'GPU-fleetjson-5'`)
    const res = await app.inject('/api/v1/gpus?metrics=DCGM_FI_DEV_GPU_UTIL')
    expect(res.body).toBe(await reference({}, ['DCGM_FI_DEV_GPU_UTIL']))
    const gpu = res.json().gpus.find((g: { id: string }) => g.id === 'GPU-fleetjson-3')
    expect(gpu).toMatchObject({ hostname: 'moved\nhost \u{1F600}', model_name: 'renamed "model"', gpu_id: 42 })
  })
})
