import pg from 'pg'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/index.js'
import { encodeWriteRequest, type RemoteSeries } from '../remotewrite/proto.js'
import { sampleId } from '../scrape/dcgm.js'
import { BUNDLE_FIELD, SERIES_FIELD, bundleId } from '../protocol/bundle.js'
import { seriesId } from '../telemetry/series.js'
import { QUEUED_MESSAGES } from '../../test/support/queue.js'
import { partitionOf } from '../partitions/hash.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { buildMqwriter } from './app.js'

const silent = pino({ level: 'silent' })
const HEADERS = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' }

function gpuSeries(gpu: number, name: string, samples: [number, number][]): RemoteSeries {
  const labels: Record<string, string> = {
    __name__: name,
    DCGM_FI_DRIVER_VERSION: '535.129.03',
    Hostname: 'node-a',
    UUID: `GPU-0000000${gpu}-86f3-7a43-b711-4771313afc50`,
    device: `nvidia${gpu}`,
    gpu: String(gpu),
    instance: '10.0.0.7:9400',
    job: 'dcgm-exporter',
    modelName: 'NVIDIA H100 80GB HBM3',
  }
  return { labels: Object.entries(labels).map(([n, v]) => ({ name: n, value: v })), samples: samples.map(([value, timestamp]) => ({ value, timestamp })) }
}

describe('mqwriter POST /api/v1/write', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db.drop()
  })
  /** Queued messages, a bundle row counted as its members (its payload in `p`, its member id in `id`). */
  const MESSAGES = QUEUED_MESSAGES
  const count = async (where = 'true') => (await db.pool.query(`SELECT count(*)::int AS n FROM (${MESSAGES}) x WHERE ${where}`)).rows[0].n as number
  const rowCount = async () => (await db.pool.query('SELECT count(*)::int AS n FROM queue_messages')).rows[0].n as number

  it('stores DCGM samples as telemetry messages after commit, drops the rest, and stores a re-sent request once', async () => {
    const { app, registry } = buildMqwriter(loadConfig({}, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    try {
      const t0 = Date.parse('2026-11-30T07:00:00Z')
      const body = encodeWriteRequest([
        gpuSeries(0, 'DCGM_FI_DEV_GPU_UTIL', [
          [42, t0],
          [43, t0 + 15_000],
        ]),
        gpuSeries(1, 'DCGM_FI_DEV_GPU_UTIL', [
          [NaN, t0],
          [7, t0 + 15_000],
        ]),
        { labels: [{ name: '__name__', value: 'up' }, { name: 'instance', value: 'x:1' }], samples: [{ value: 1, timestamp: t0 }] },
        { labels: [{ name: '__name__', value: 'DCGM_FI_DEV_GPU_TEMP' }, { name: 'Hostname', value: 'h' }], samples: [{ value: 30, timestamp: t0 }] },
      ])
      const before = await count()
      const rowsBefore = await rowCount()
      const res = await app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: body })
      expect(res.statusCode).toBe(204)
      // committed when answered: the 3 samples as one bundle row
      expect((await count()) - before).toBe(3)
      expect((await rowCount()) - rowsBefore).toBe(1)
      const row = await db.pool.query(`SELECT * FROM (${MESSAGES}) x WHERE p->>'value' = '42'`)
      const labels = Object.fromEntries(gpuSeries(0, 'DCGM_FI_DEV_GPU_UTIL', []).labels.map((l) => [l.name, l.value]))
      expect(row.rows[0].id).toBe(sampleId('DCGM_FI_DEV_GPU_UTIL', labels, t0))
      // the bundle's own id is derived from its members' (a re-sent request is deduplicated in the queue)
      const ids = (await db.pool.query(`SELECT id FROM (${MESSAGES}) x WHERE row_id = $1`, [row.rows[0].row_id])).rows.map((r) => r.id as string)
      expect(row.rows[0].row_id).toBe(bundleId(ids))
      expect(row.rows[0].key).toBe(row.rows[0].row_id)
      expect(row.rows[0].partition).toBe(partitionOf(row.rows[0].row_id))
      expect(row.rows[0].p).toMatchObject({
        ts: '2026-11-30T07:00:00.000Z',
        metric_name: 'DCGM_FI_DEV_GPU_UTIL',
        gpu_id: 0,
        device: 'nvidia0',
        hostname: 'node-a',
        model_name: 'NVIDIA H100 80GB HBM3',
        value: 42,
        container: null,
      })
      // Prometheus re-sends a shard whose answer it lost: nothing new
      const again = await app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: body })
      expect(again.statusCode).toBe(204)
      expect((await count()) - before).toBe(3)
      expect((await rowCount()) - rowsBefore).toBe(1)
      const m = await registry.metrics()
      expect(m).toContain('mqwriter_remote_write_samples_total{outcome="accepted"} 6')
      expect(m).toContain('mqwriter_remote_write_samples_total{outcome="not_dcgm"} 2')
      expect(m).toContain('mqwriter_remote_write_samples_total{outcome="non_finite"} 2')
      expect(m).toContain('mqwriter_remote_write_samples_total{outcome="unmapped"} 2')
    } finally {
      await app.close()
    }
  })

  it('with --bundle-max 1 stores one row per sample (for a rolling upgrade from a version without bundles)', async () => {
    const { app } = buildMqwriter(loadConfig({ 'bundle-max': '1' }, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    try {
      const t0 = Date.parse('2026-11-29T09:00:00Z')
      const rowsBefore = await rowCount()
      const res = await app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: encodeWriteRequest([gpuSeries(5, 'DCGM_FI_DEV_GPU_UTIL', [[1, t0], [2, t0 + 1000], [3, t0 + 2000]])]) })
      expect(res.statusCode).toBe(204)
      expect((await rowCount()) - rowsBefore).toBe(3)
      const plain = await db.pool.query(`SELECT count(*)::int AS n FROM queue_messages WHERE payload->>'gpu_uuid' LIKE 'GPU-00000005%' AND payload->'${BUNDLE_FIELD}' IS NULL`)
      expect(plain.rows[0].n).toBe(3)
    } finally {
      await app.close()
    }
  })

  it('POST /v1/publish: a malformed bundle is refused with 400, one larger than the buffer with 413; a good one counts its members', async () => {
    const { app, registry } = buildMqwriter(loadConfig({ 'buffer-capacity': '300' }, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    try {
      const member = (i: number) => ({ msg_uuid: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`, payload: { metric_name: 'm', i } })
      const post = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/publish', payload: [{ key: 'k', payload }] })
      for (const [bundle, why] of [
        [[], /body\/0\/payload is a malformed bundle: tpipe_bundle is empty/],
        [[{ msg_uuid: 'x', payload: {} }], /tpipe_bundle\/0\/msg_uuid must be a uuid/],
        [Array.from({ length: 257 }, (_, i) => member(i)), /at most 256/],
      ] as const) {
        const r = await post({ [BUNDLE_FIELD]: bundle })
        expect(r.statusCode).toBe(400)
        expect(r.json().error.message).toMatch(why)
      }
      const two = await app.inject({ method: 'POST', url: '/v1/publish', payload: [0, 1].map((k) => ({ key: `k${k}`, payload: { [BUNDLE_FIELD]: Array.from({ length: 200 }, (_, i) => member(k * 1000 + i)) } })) })
      expect(two.statusCode).toBe(413)
      expect(two.json().error.message).toMatch(/400 messages \(bundle members counted\) in one publish; at most 300/)
      const before = Number((await registry.getSingleMetric('mqwriter_messages_published_total')!.get()).values[0]?.value ?? 0)
      expect((await post({ [BUNDLE_FIELD]: Array.from({ length: 5 }, (_, i) => member(5000 + i)) })).statusCode).toBe(201)
      expect(Number((await registry.getSingleMetric('mqwriter_messages_published_total')!.get()).values[0]!.value) - before).toBe(5)
    } finally {
      await app.close()
    }
  })

  it('samples carry their series id in place of labels; the series are written with the rows, once per refresh', async () => {
    const { app, registry } = buildMqwriter(loadConfig({}, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    try {
      const t0 = Date.parse('2026-11-29T10:00:00Z')
      const series = [gpuSeries(6, 'DCGM_FI_DEV_GPU_UTIL', [[1, t0], [2, t0 + 1000]]), gpuSeries(6, 'DCGM_FI_DEV_GPU_TEMP', [[40, t0]])]
      // The labels JSON the collector would have stored (name first, then the labels as sent) and its id.
      const labelsJson = series.map((s) => JSON.stringify(Object.fromEntries(s.labels.map((l) => [l.name, l.value]))))
      const ids = labelsJson.map(seriesId)
      const registered = async () => Number((await registry.getSingleMetric('mqwriter_remote_write_series_registered_total')!.get()).values[0]?.value ?? 0)
      expect((await app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: encodeWriteRequest(series) })).statusCode).toBe(204)
      const queued = await db.pool.query(`SELECT p FROM (${MESSAGES}) x WHERE p->>'gpu_uuid' LIKE 'GPU-00000006%' ORDER BY p->>'metric_name', p->>'ts'`)
      expect(queued.rows.map((r) => [r.p.labels, r.p[SERIES_FIELD]])).toEqual([
        [null, ids[1]],
        [null, ids[0]],
        [null, ids[0]],
      ])
      const stored = await db.pool.query('SELECT series_id, labels FROM telemetry_series WHERE series_id = ANY($1::uuid[]) ORDER BY series_id', [ids])
      expect(stored.rows).toEqual(ids.map((id, i) => ({ series_id: id, labels: JSON.parse(labelsJson[i]!) })).sort((a, b) => (a.series_id < b.series_id ? -1 : 1)))
      expect(await registered()).toBe(2)
      // Registered once committed: the next request's samples carry the ids only.
      const next = encodeWriteRequest(series.map((s) => ({ ...s, samples: [{ value: 3, timestamp: t0 + 60_000 }] })))
      expect((await app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: next })).statusCode).toBe(204)
      expect(await registered()).toBe(2)
    } finally {
      await app.close()
    }
  })

  it('bundle rows are compressed with lz4 where the server has it (stored uncompressed otherwise, not pglz) and read back as written', async () => {
    const { app } = buildMqwriter(loadConfig({}, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    try {
      // Whether this PostgreSQL was built with lz4 (Debian's and the official image's are; the embedded one is not).
      const lz4 = (await db.pool.query("SELECT 'lz4' = ANY(enumvals) AS ok FROM pg_settings WHERE name = 'default_toast_compression'")).rows[0].ok as boolean
      const attr = await db.pool.query("SELECT attcompression AS c, attstorage AS s FROM pg_attribute WHERE attrelid = 'queue_messages'::regclass AND attname = 'payload'")
      // Without lz4: out of line but uncompressed (STORAGE EXTERNAL); pglz took twice the INSERT's time.
      expect(attr.rows[0]).toEqual(lz4 ? { c: 'l', s: 'x' } : { c: '', s: 'e' })
      const t0 = Date.parse('2026-11-29T13:00:00Z')
      // 256 series of one sample: one bundle row of ~100 KB, stored out of line (TOAST), compressed with lz4 or not at all.
      const series = Array.from({ length: 256 }, (_, i) => {
        const s = gpuSeries(1, `DCGM_FI_LZ4_${i}`, [[i, t0]])
        return { ...s, labels: s.labels.map((l) => (l.name === 'UUID' ? { ...l, value: 'GPU-lz4-bundle' } : l)) }
      })
      const res = await app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: encodeWriteRequest(series) })
      expect(res.statusCode).toBe(204)
      const row = await db.pool.query(
        `SELECT pg_column_compression(payload) AS method, pg_column_size(payload) AS stored, octet_length(payload::text) AS bytes, payload::text AS text
         FROM queue_messages WHERE payload::text LIKE '%GPU-lz4-bundle%'`,
      )
      expect(row.rows).toHaveLength(1)
      expect(row.rows[0].method).toBe(lz4 ? 'lz4' : null)
      // The stored size: well under half the text with lz4, all of it (and its header) without.
      const stored = row.rows[0].stored as number
      if (lz4) expect(stored).toBeLessThan(row.rows[0].bytes / 2)
      else expect(stored).toBeGreaterThanOrEqual(row.rows[0].bytes)
      expect(row.rows[0].bytes).toBeGreaterThan(8192)
      const members = JSON.parse(row.rows[0].text)[BUNDLE_FIELD] as { payload: { value: number } }[]
      expect(members.map((m) => m.payload.value)).toEqual(Array.from({ length: 256 }, (_, i) => i))
    } finally {
      await app.close()
    }
  })

  it('two publishes of one batch registering the same series, and a batch isolated for a poison publish, write each series once', async () => {
    // A long batch interval: every publish below lands in one batch.
    const { app, registry } = buildMqwriter(loadConfig({ 'flush-interval-ms': '300' }, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    try {
      const flushes = async () => (await registry.getSingleMetric('mqwriter_flush_batch_size')!.get()).values.find((v) => (v as { metricName?: string }).metricName === 'mqwriter_flush_batch_size_count')?.value ?? 0
      const t0 = Date.parse('2026-11-29T11:00:00Z')
      const post = (gpu: number, t: number) =>
        app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: encodeWriteRequest([gpuSeries(gpu, 'DCGM_FI_DEV_GPU_UTIL', [[1, t]])]) })
      const seriesOf = async (gpu: number) => (await db.pool.query(`SELECT count(*)::int AS n FROM telemetry_series WHERE labels->>'UUID' = $1`, [`GPU-0000000${gpu}-86f3-7a43-b711-4771313afc50`])).rows[0].n as number
      // 1. The same new series in two requests of one batch: one statement (no isolation), one series.
      const f0 = await flushes()
      const two = await Promise.all([post(7, t0), post(7, t0 + 1000)])
      expect(two.map((r) => r.statusCode)).toEqual([204, 204])
      expect((await flushes()) - f0).toBe(1)
      expect(await seriesOf(7)).toBe(1)
      expect(await count(`p->>'gpu_uuid' LIKE 'GPU-00000007%'`)).toBe(2)
      // 2. A poison publish in the batch: it is isolated publish by publish, and the remote_write publish
      //    still writes its series with its rows.
      // A key only the database refuses (a CHECK this test adds; mqwriter itself refuses NUL and lone
      // surrogates in keys now), failing the batch statement.
      await db.pool.query("ALTER TABLE queue_messages ADD CONSTRAINT test_refused_key CHECK (key <> 'refused-by-the-database') NOT VALID")
      const f1 = await flushes()
      // The remote_write publish is a bundle (two samples: its payload a Buffer), inserted alone by the isolating path.
      const [rw, poison] = await Promise.all([
        app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: encodeWriteRequest([gpuSeries(8, 'DCGM_FI_DEV_GPU_UTIL', [[1, t0], [2, t0 + 1000]])]) }),
        app.inject({ method: 'POST', url: '/v1/publish', payload: { key: 'refused-by-the-database', payload: { i: 1 } } }),
      ])
      expect(rw.statusCode).toBe(204)
      expect(poison.statusCode).toBe(400)
      expect((await flushes()) - f1).toBe(0) // the batch statement failed: isolated
      expect(await seriesOf(8)).toBe(1)
      expect(await count(`p->>'gpu_uuid' LIKE 'GPU-00000008%'`)).toBe(2)
      expect((await db.pool.query(`SELECT array_agg((p->>'value')::float8 ORDER BY p->>'ts') AS v FROM (${MESSAGES}) x WHERE p->>'gpu_uuid' LIKE 'GPU-00000008%'`)).rows[0].v).toEqual([1, 2])
    } finally {
      await db.pool.query('ALTER TABLE queue_messages DROP CONSTRAINT IF EXISTS test_refused_key')
      await app.close()
    }
  })

  it('POST /v1/publish refuses a payload carrying the series id field mqwriter reserves (itself or a bundle member)', async () => {
    const { app } = buildMqwriter(loadConfig({}, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    try {
      const spoof = { metric_name: 'm', labels: null, [SERIES_FIELD]: seriesId('{}') }
      const member = { msg_uuid: '00000000-0000-7000-8000-000000000001', payload: spoof }
      for (const [payload, path] of [
        [spoof, 'body/0/payload/tpipe_series'],
        [{ [BUNDLE_FIELD]: [{ ...member, payload: { metric_name: 'm' } }, { ...member, msg_uuid: '00000000-0000-7000-8000-000000000002' }] }, 'body/0/payload/tpipe_bundle/1/payload/tpipe_series'],
      ] as const) {
        const r = await app.inject({ method: 'POST', url: '/v1/publish', payload: [{ key: 'k', payload }] })
        expect(r.statusCode).toBe(400)
        expect(r.json().error).toEqual({ code: 'TPIPE_ERR_VALIDATION', message: expect.stringContaining(`${path} is reserved`) })
      }
    } finally {
      await app.close()
    }
  })

  it('one sample with a time no date can hold is counted and dropped; the rest of its request is stored', async () => {
    const { app, registry } = buildMqwriter(loadConfig({}, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    try {
      const t0 = Date.parse('2026-11-29T08:00:00Z')
      const body = encodeWriteRequest([
        gpuSeries(2, 'DCGM_FI_DEV_GPU_UTIL', [
          [1, t0],
          [2, 9e15], // past ±8.64e15 ms
          [3, t0 + 15_000],
        ]),
      ])
      const before = await count()
      const res = await app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: body })
      expect(res.statusCode).toBe(204)
      expect((await count()) - before).toBe(2)
      expect(await registry.metrics()).toContain('mqwriter_remote_write_samples_total{outcome="bad_time"} 1')
    } finally {
      await app.close()
    }
  })

  it('answers 400 for malformed bodies, 413 beyond the bounds, with the error body', async () => {
    const { app } = buildMqwriter(loadConfig({ 'remote-write-max-decoded-bytes': '2048', 'buffer-capacity': '5' }, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    try {
      const cases: [string, Record<string, string>, Buffer | string, number, RegExp][] = [
        ['not snappy', HEADERS, Buffer.from('definitely not snappy at all'), 400, /snappy/],
        ['snappy but not protobuf', HEADERS, Buffer.from((await import('snappyjs')).compress(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]))), 400, /WriteRequest/],
        ['gzip', { ...HEADERS, 'content-encoding': 'gzip' }, encodeWriteRequest([]), 400, /Content-Encoding gzip/],
        ['json', { 'content-type': 'application/json' }, '{"timeseries":[]}', 400, /snappy-compressed protobuf/],
        ['too big decoded', HEADERS, encodeWriteRequest([gpuSeries(0, 'DCGM_FI_DEV_GPU_UTIL', Array.from({ length: 300 }, (_, i) => [i, i] as [number, number]))]), 413, /larger than 2048/],
        ['more than the buffer', HEADERS, encodeWriteRequest([gpuSeries(0, 'DCGM_FI_DEV_GPU_UTIL', Array.from({ length: 6 }, (_, i) => [i, i] as [number, number]))]), 413, /at most 5/],
      ]
      for (const [what, headers, payload, status, message] of cases) {
        const res = await app.inject({ method: 'POST', url: '/api/v1/write', headers, payload })
        expect(res.statusCode, what).toBe(status)
        expect(res.json().error.message, what).toMatch(message)
        expect(res.json().error.code, what).toMatch(/^TPIPE_ERR_/)
      }
    } finally {
      await app.close()
    }
  })

  it('answers 503 with Retry-After when the buffer is full (Prometheus retries 5xx), and the retry stores once', async () => {
    const { app } = buildMqwriter(loadConfig({ 'buffer-capacity': '10', 'retry-after-seconds': '2' }, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    const blocker = await db.pool.connect()
    try {
      const t0 = Date.parse('2026-11-30T08:00:00Z')
      const a = encodeWriteRequest([gpuSeries(2, 'DCGM_FI_DEV_GPU_UTIL', Array.from({ length: 8 }, (_, i) => [i, t0 + i * 1000] as [number, number]))])
      const b = encodeWriteRequest([gpuSeries(3, 'DCGM_FI_DEV_GPU_UTIL', Array.from({ length: 8 }, (_, i) => [i, t0 + i * 1000] as [number, number]))])
      // hold the flush of A so that its 8 messages stay in the buffer
      await blocker.query('BEGIN')
      await blocker.query('LOCK TABLE queue_messages IN EXCLUSIVE MODE')
      const first = app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: a })
      await new Promise((r) => setTimeout(r, 100))
      const full = await app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: b })
      expect(full.statusCode).toBe(503)
      expect(full.headers['retry-after']).toBe('2')
      expect(full.json().error.message).toMatch(/buffer full/)
      await blocker.query('COMMIT')
      expect((await first).statusCode).toBe(204)
      const retry = await app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: b })
      expect(retry.statusCode).toBe(204)
      expect(await count(`p->>'ts' >= '2026-11-30T08:00:00'`)).toBe(16)
    } finally {
      blocker.release()
      await app.close()
    }
  })

  it('is answered within the publish bound while the flush is stuck (503 + Retry-After, /readyz false), and the retry stores once', async () => {
    const { app, registry } = buildMqwriter(loadConfig({ 'publish-timeout-ms': '1000' }, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    const registered = async () => Number((await registry.getSingleMetric('mqwriter_remote_write_series_registered_total')!.get()).values[0]?.value ?? 0)
    const locker = new pg.Client({ connectionString: db.url })
    await locker.connect()
    try {
      const t0 = Date.parse('2026-11-30T09:00:00Z')
      const body = encodeWriteRequest([gpuSeries(4, 'DCGM_FI_DEV_GPU_UTIL', Array.from({ length: 5 }, (_, i) => [i, t0 + i * 1000] as [number, number]))])
      const before = await count()
      // the queue table locked for longer than the bound: the flush cannot commit
      await locker.query('BEGIN')
      await locker.query('LOCK TABLE queue_messages IN ACCESS EXCLUSIVE MODE')
      const started = Date.now()
      const res = await app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: body })
      const took = Date.now() - started
      expect(res.statusCode).toBe(503)
      expect(res.headers['retry-after']).toBe('1')
      expect(res.json().error.code).toBe('TPIPE_ERR_DB_UNAVAILABLE')
      expect(took).toBeLessThan(3000)
      expect(await registered()).toBe(0)
      await new Promise((r) => setTimeout(r, 200))
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503)
      await locker.query('COMMIT')
      // the stuck batch commits once the lock is gone; Prometheus re-sends the same samples: stored once
      await expect.poll(async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode, { timeout: 10_000 }).toBe(200)
      const retry = await app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: body })
      expect(retry.statusCode).toBe(204)
      expect((await count()) - before).toBe(5)
      // A series counts as registered only once an answered publish committed it: the 503's did not count,
      // so the retry registered it (again: the stuck batch had written it too, an upsert that changes nothing).
      expect(await registered()).toBe(1)
    } finally {
      await locker.query('ROLLBACK').catch(() => {})
      await locker.end()
      await app.close()
    }
  })
})
