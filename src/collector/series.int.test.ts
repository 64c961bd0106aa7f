// Labels once per series (telemetry_series, migration 1764209800000): the collector writes a label set
// with the first rows of its series and then rows carry only series_id; readers get the same labels back.
// Real PostgreSQL, the real persister and the apigw's own page statement.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { telemetryPage } from '../apigw/sql.js'
import { createRegistry, metricValue } from '../metrics/index.js'
import type { LeasedMessage } from '../protocol/lease.js'
import { maintain } from '../telemetry/maintain.js'
import { SeriesCache, seriesId } from '../telemetry/series.js'
import { payload, silent } from '../../test/support/mqreader.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { uuidv7 } from '../util/ids.js'
import { loadConfig } from '../config/index.js'
import { buildMqwriter } from '../mqwriter/app.js'
import { BUNDLE_FIELD } from '../protocol/bundle.js'
import { encodeWriteRequest } from '../remotewrite/proto.js'
import { collectorMetrics } from './metrics.js'
import { persister } from './persist.js'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.drop()
})

const T0 = Date.UTC(2026, 10, 20, 12)
const labelsOf = (gpu: string) => ({ __name__: 'DCGM_FI_DEV_GPU_UTIL', Hostname: 'host-1', UUID: gpu, device: 'nvidia0', gpu: '0', instance: '10.0.0.1:9400', job: 'dcgm-exporter', modelName: 'NVIDIA H100 80GB HBM3' })

function msg(gpu: string, i: number, extra: Record<string, unknown> = {}): LeasedMessage {
  const p = payload(gpu, i, { labels: labelsOf(gpu), ...extra })
  p.ts = new Date(T0 + i * 1000).toISOString()
  return { msg_uuid: uuidv7(), key: gpu, partition: 1, payload: p, delivery_count: 1, enqueued_at: new Date().toISOString() }
}

function newPersist(cache: SeriesCache) {
  const registry = createRegistry()
  return { registry, persist: persister(db.pool, collectorMetrics(registry), silent, cache) }
}

async function rowsOf(gpu: string) {
  return (await db.pool.query<{ labels: unknown; series_id: string | null }>('SELECT labels, series_id FROM telemetry WHERE gpu_uuid = $1 ORDER BY ts', [gpu])).rows
}

/** What GET /api/v1/gpus/{id}/telemetry?detail=true reads. */
async function detailLabels(gpu: string, from = T0 - 3_600_000, to = T0 + 3_600_000): Promise<unknown[]> {
  const q = telemetryPage({ id: gpu, start: new Date(from).toISOString(), end: new Date(to).toISOString(), limit: 1000, metrics: [], detail: true })
  return (await db.pool.query<{ labels: unknown }>(q)).rows.map((r) => r.labels)
}

describe('telemetry_series: labels stored once per series', () => {
  it('writes a label set once, rows carry its series_id, and the detail page reads the labels back', async () => {
    const cache = new SeriesCache(1 << 20)
    const { registry, persist } = newPersist(cache)
    const gpus = ['GPU-series-a', 'GPU-series-b']
    await persist([0, 1, 2].flatMap((i) => gpus.map((g) => msg(g, i))))
    await persist([3, 4].flatMap((i) => gpus.map((g) => msg(g, i))))
    for (const g of gpus) {
      const rows = await rowsOf(g)
      expect(rows).toHaveLength(5)
      const id = seriesId(JSON.stringify(labelsOf(g)))
      expect(rows.every((r) => r.labels === null && r.series_id === id)).toBe(true)
      const stored = await db.pool.query('SELECT labels FROM telemetry_series WHERE series_id = $1', [id])
      expect(stored.rows).toEqual([{ labels: labelsOf(g) }])
      expect(await detailLabels(g)).toEqual(Array(5).fill(labelsOf(g)))
    }
    // Two label sets, each written with the first batch only.
    expect(await metricValue(registry, 'collector_series_written_total')).toBe(2)
    expect(cache.size).toBe(2)
  })

  it('a new collector (empty cache) and a redelivered batch store neither rows nor series twice', async () => {
    const batch = [0, 1, 2].map((i) => msg('GPU-series-redeliver', i))
    await newPersist(new SeriesCache(1 << 20)).persist(batch)
    await newPersist(new SeriesCache(1 << 20)).persist(batch)
    expect(await rowsOf('GPU-series-redeliver')).toHaveLength(3)
    const n = await db.pool.query('SELECT count(*)::int AS n FROM telemetry_series WHERE series_id = $1', [seriesId(JSON.stringify(labelsOf('GPU-series-redeliver')))])
    expect(n.rows[0].n).toBe(1)
  })

  it('with the cache off, labels stay in the row (and series_id is null), as before telemetry_series', async () => {
    await newPersist(new SeriesCache(0)).persist([msg('GPU-series-inline', 0)])
    expect(await rowsOf('GPU-series-inline')).toEqual([{ labels: labelsOf('GPU-series-inline'), series_id: null }])
    expect(await detailLabels('GPU-series-inline')).toEqual([labelsOf('GPU-series-inline')])
  })

  it('a payload cannot borrow another series: a series_id it carries is replaced (or cleared without labels)', async () => {
    const victim = seriesId(JSON.stringify(labelsOf('GPU-series-a')))
    const { persist } = newPersist(new SeriesCache(1 << 20))
    await persist([msg('GPU-series-spoof', 0, { labels: null, series_id: victim }), msg('GPU-series-spoof', 1, { series_id: victim })])
    expect(await rowsOf('GPU-series-spoof')).toEqual([
      { labels: null, series_id: null },
      { labels: null, series_id: seriesId(JSON.stringify(labelsOf('GPU-series-spoof'))) },
    ])
    expect(await detailLabels('GPU-series-spoof')).toEqual([null, labelsOf('GPU-series-spoof')])
  })

  it('remote_write rows: mqwriter registers the series with the queue rows, the collector takes the id (cache on or off)', async () => {
    const { app } = buildMqwriter(loadConfig({}, {}, 'mqwriter'), { pool: db.pool, logger: silent })
    try {
      const gpus = ['GPU-series-rw-on', 'GPU-series-rw-off']
      const labels = gpus.map((g) => ({ ...labelsOf(g), Hostname: 'host-rw' }))
      const body = encodeWriteRequest(labels.map((l) => ({ labels: Object.entries(l).map(([name, value]) => ({ name, value })), samples: [0, 1].map((i) => ({ value: i, timestamp: T0 + i * 1000 })) })))
      const res = await app.inject({ method: 'POST', url: '/api/v1/write', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' }, payload: body })
      expect(res.statusCode).toBe(204)
      const queued = await db.pool.query<{ msg_uuid: string; key: string; partition: number; payload: LeasedMessage['payload'] }>(
        `SELECT msg_uuid, key, partition, payload FROM queue_messages WHERE payload::text LIKE '%GPU-series-rw-%'`,
      )
      const leased = (gpu: string): LeasedMessage[] =>
        queued.rows.map((r) => ({ ...r, delivery_count: 1, enqueued_at: new Date().toISOString(), payload: { [BUNDLE_FIELD]: (r.payload as { [BUNDLE_FIELD]: { payload: { gpu_uuid: string } }[] })[BUNDLE_FIELD].filter((m) => m.payload.gpu_uuid === gpu) } }))
      for (const [i, cache] of [new SeriesCache(1 << 20), new SeriesCache(0)].entries()) {
        const { registry, persist } = newPersist(cache)
        await persist(leased(gpus[i]!))
        const id = seriesId(JSON.stringify(labels[i]))
        expect(await rowsOf(gpus[i]!)).toEqual([
          { labels: null, series_id: id },
          { labels: null, series_id: id },
        ])
        expect(await detailLabels(gpus[i]!)).toEqual([labels[i], labels[i]])
        // The collector wrote no series itself: mqwriter had.
        expect(await metricValue(registry, 'collector_series_written_total')).toBe(0)
      }
    } finally {
      await app.close()
    }
  })

  it('labels PostgreSQL cannot store fail only their own message, as inline labels did; the rest and their series are stored', async () => {
    const cache = new SeriesCache(1 << 20)
    const { registry, persist } = newPersist(cache)
    // jsonb holds no \u0000: the series upsert would refuse it and fail the batch; the row is dead-lettered first.
    const badLabels = { ...labelsOf('GPU-series-nul'), pod: 'a\u0000b' }
    const bad = msg('GPU-series-nul', 0, { labels: badLabels })
    await persist([msg('GPU-series-ok', 0), bad, msg('GPU-series-ok', 1)])
    expect(await rowsOf('GPU-series-ok')).toHaveLength(2)
    expect(await rowsOf('GPU-series-nul')).toHaveLength(0)
    // A dead letter's payload is jsonb too: it keeps the payload as JSON text (it was dropped before 2026-12-01).
    expect(await metricValue(registry, 'collector_dead_letters_total')).toBe(1)
    expect(await metricValue(registry, 'collector_messages_unstorable_total')).toBe(0)
    const dead = await db.pool.query<{ error: string; payload: { unstorable_json: string } }>('SELECT error, payload FROM dead_letters WHERE msg_uuid = $1', [bad.msg_uuid])
    expect(dead.rows[0]!.error).toMatch(/labels hold NUL/)
    expect(JSON.parse(dead.rows[0]!.payload.unstorable_json).labels.pod).toBe('a\u0000b')
    expect(await detailLabels('GPU-series-ok')).toEqual([labelsOf('GPU-series-ok'), labelsOf('GPU-series-ok')])
    // The payload object is left as it came (labels back, no series_id added).
    expect((bad.payload as { labels: unknown }).labels).toBe(badLabels)
    expect(Object.hasOwn(bad.payload as object, 'series_id')).toBe(false)
    // The good series is remembered; the refused one is not (its next rows try again).
    expect(cache.lookup(JSON.stringify(labelsOf('GPU-series-ok')), Date.now()).known).toBe(true)
    expect(cache.lookup(JSON.stringify(badLabels), Date.now()).known).toBe(false)
  })

  it('a series in use is written again after refreshMs, which moves its last_seen (older than 10 minutes)', async () => {
    const id = seriesId(JSON.stringify(labelsOf('GPU-series-refresh')))
    const cache = new SeriesCache(1 << 20, 0)
    const { persist } = newPersist(cache)
    await persist([msg('GPU-series-refresh', 0)])
    await db.pool.query("UPDATE telemetry_series SET last_seen = now() - interval '2 days' WHERE series_id = $1", [id])
    await persist([msg('GPU-series-refresh', 1)])
    const r = await db.pool.query<{ fresh: boolean }>("SELECT last_seen > now() - interval '1 minute' AS fresh FROM telemetry_series WHERE series_id = $1", [id])
    expect(r.rows).toEqual([{ fresh: true }])
  })

  it('maintenance deletes series unused for the raw retention plus a day, and only those; --dry-run only counts them', async () => {
    await newPersist(new SeriesCache(1 << 20)).persist([msg('GPU-series-old', 0), msg('GPU-series-young', 0)])
    const old = seriesId(JSON.stringify(labelsOf('GPU-series-old')))
    const young = seriesId(JSON.stringify(labelsOf('GPU-series-young')))
    // Retention 7 d: a series last written 8 d + 1 h ago goes, one written 7 d + 23 h ago stays.
    await db.pool.query("UPDATE telemetry_series SET last_seen = now() - interval '8 days 1 hour' WHERE series_id = $1", [old])
    await db.pool.query("UPDATE telemetry_series SET last_seen = now() - interval '7 days 23 hours' WHERE series_id = $1", [young])
    const opts = { partitionMs: 86_400_000, retentionMs: 7 * 86_400_000, rollupRetentionMs: 90 * 86_400_000, rollup1hRetentionMs: 400 * 86_400_000 }
    const c = await db.pool.connect()
    try {
      const dry = await maintain(c, { ...opts, dryRun: true })
      expect(dry.expiredSeries).toBeGreaterThanOrEqual(1)
      expect((await db.pool.query('SELECT 1 FROM telemetry_series WHERE series_id = $1', [old])).rowCount).toBe(1)
      const done = await maintain(c, opts)
      expect(done.ran).toBe(true)
      expect(done.expiredSeries).toBe(dry.expiredSeries)
    } finally {
      c.release()
    }
    expect((await db.pool.query('SELECT 1 FROM telemetry_series WHERE series_id = $1', [old])).rowCount).toBe(0)
    expect((await db.pool.query('SELECT 1 FROM telemetry_series WHERE series_id = $1', [young])).rowCount).toBe(1)
  })

  it('keeps a series whose rows still exist in a partition that starts before retention plus a day (a 7-day partition)', async () => {
    // Rows live until their whole partition is past retention: a week-long partition [now - 10 d, now - 3 d)
    // is kept with retention 7 d, and so must the series of its rows be, though last written 9 days ago.
    const DAY = 86_400_000
    const now = Date.now()
    const from = Math.floor((now - 10 * DAY) / DAY) * DAY
    await db.pool.query('SELECT tpipe_ensure_partition($1, $2, $3, $4)', ['telemetry', 'ts', new Date(from).toISOString(), new Date(from + 7 * DAY).toISOString()])
    const m = msg('GPU-series-week', 0)
    ;(m.payload as { ts: string }).ts = new Date(from + DAY).toISOString()
    await newPersist(new SeriesCache(1 << 20)).persist([m])
    const id = seriesId(JSON.stringify(labelsOf('GPU-series-week')))
    await db.pool.query("UPDATE telemetry_series SET last_seen = now() - interval '9 days' WHERE series_id = $1", [id])
    const opts = { partitionMs: DAY, retentionMs: 7 * DAY, rollupRetentionMs: 90 * DAY, rollup1hRetentionMs: 400 * DAY }
    const c = await db.pool.connect()
    const r = await maintain(c, opts).finally(() => c.release())
    expect(r.dropped.filter((p) => p.table === 'telemetry')).toEqual([])
    // Before: the horizon was now - retention - 1 day, and this series went while its row stayed.
    expect((await db.pool.query('SELECT 1 FROM telemetry_series WHERE series_id = $1', [id])).rowCount).toBe(1)
    expect(await detailLabels('GPU-series-week', from, from + 2 * DAY)).toEqual([labelsOf('GPU-series-week')])
    expect(Date.parse(r.seriesHorizon!)).toBeLessThanOrEqual(from - DAY)
  })
})
