// Seeds the api benchmark's fleet: GPUs × 10 metrics every stepMs, ending at a fixed time, straight into
// the partitioned telemetry table in SQL (generate_series, one hour of samples per statement), then the
// derived tables the ingest trigger would have built (rollups, latest values, gpus) in a few set-based
// statements. Resumable: a run continues after the newest seeded scrape, so an interrupted seed (50M
// rows take a long while on a shared machine) is not started over. Older rollups (before the raw rows,
// as if raw retention had dropped them) are seeded for a few metrics, for the 30-day queries.
import type { Pool } from '../db/pool.js'
import { SEED_METRICS, seedGpuUuidSql } from '../apigw/seed.js'

export interface FleetSeed {
  gpus: number
  rows: number
  /** End of the seeded raw time range (exclusive). */
  end: Date
  stepMs: number
  /** Days of per-minute rollups before the raw rows, for `rollupMetrics`. */
  rollupDays: number
  rollupMetrics: readonly string[]
  log?: (m: string) => void
}

const DAY = 86_400_000
const HOUR = 3_600_000

export function fleetSpan(s: FleetSeed): { start: number; scrapes: number } {
  const scrapes = Math.ceil(s.rows / (s.gpus * SEED_METRICS.length))
  return { start: s.end.getTime() - scrapes * s.stepMs, scrapes }
}

export async function seedFleet(pool: Pool, s: FleetSeed): Promise<void> {
  const log = s.log ?? (() => {})
  const { start, scrapes } = fleetSpan(s)
  const oldest = start - s.rollupDays * DAY
  for (let d = Math.floor(start / DAY) * DAY; d < s.end.getTime(); d += DAY) {
    await pool.query('SELECT tpipe_ensure_partition($1, $2, $3, $4)', ['telemetry', 'ts', new Date(d).toISOString(), new Date(d + DAY).toISOString()])
  }
  for (let w = Math.floor(oldest / (7 * DAY)) * 7 * DAY; w < s.end.getTime(); w += 7 * DAY) {
    await pool.query('SELECT tpipe_ensure_partition($1, $2, $3, $4)', ['telemetry_1m', 'bucket', new Date(w).toISOString(), new Date(w + 7 * DAY).toISOString()])
  }
  // The derived tables are built in bulk below; the per-batch trigger would only slow the seed down.
  await pool.query('ALTER TABLE telemetry DISABLE TRIGGER telemetry_mark_dirty_after_insert')
  await pool.query('ALTER TABLE telemetry DISABLE TRIGGER telemetry_gpus_after_insert')
  try {
    const have = await pool.query<{ last: Date | null }>('SELECT max(ts) AS last FROM telemetry')
    const first = have.rows[0]?.last ? Math.round((have.rows[0].last.getTime() - start) / s.stepMs) + 1 : 0
    const per = Math.max(1, Math.round(HOUR / s.stepMs))
    const t0 = Date.now()
    for (let from = first; from < scrapes; from += per) {
      const to = Math.min(scrapes, from + per)
      await pool.query({
        // GPU attributes computed once per GPU (not per row): the seed is CPU-bound on a shared machine.
        text: `WITH gpu AS MATERIALIZED (
                 SELECT ${seedGpuUuidSql('g')} AS gpu_uuid, (g % 8)::smallint AS gpu_id, 'nvidia' || (g % 8) AS device,
                        'seed-host-' || lpad((g / 8)::text, 3, '0') AS hostname,
                        CASE WHEN g % 3 = 0 THEN 'NVIDIA A100-SXM4-80GB' ELSE 'NVIDIA H100 80GB HBM3' END AS model_name
                 FROM generate_series(0, $6::int - 1) AS g
               )
               INSERT INTO telemetry (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts)
               SELECT gen_random_uuid(), gpu.gpu_uuid, gpu.gpu_id, gpu.device, gpu.hostname, gpu.model_name, metric, random() * 100,
                      to_timestamp(($3::bigint + sc * $4::bigint) / 1000.0)
               FROM generate_series($1::bigint, $2::bigint - 1) AS sc, unnest($5::text[]) AS metric, gpu`,
        values: [from, to, start, s.stepMs, SEED_METRICS, s.gpus],
      })
      const done = to - first
      if (to === scrapes || done % (per * 6) === 0) {
        const rate = (done * s.gpus * 10) / ((Date.now() - t0) / 1000)
        log(`  seeded ${(to * s.gpus * 10).toLocaleString('en')} / ${(scrapes * s.gpus * 10).toLocaleString('en')} rows (${Math.round(rate).toLocaleString('en')} rows/s)`)
      }
    }
    log('  building rollups, latest values and gpus from the raw rows…')
    await pool.query('TRUNCATE telemetry_1m, telemetry_latest, gpus')
    const t1 = Date.now()
    for (let d = Math.floor(start / DAY) * DAY; d < s.end.getTime(); d += DAY) {
      await pool.query({
        text: `INSERT INTO telemetry_1m (gpu_uuid, metric_name, bucket, count, sum, min, max, last, last_ts, last_msg)
               SELECT gpu_uuid, metric_name, date_trunc('minute', ts), count(*), sum(value), min(value), max(value),
                      (array_agg(value ORDER BY ts DESC, msg_uuid DESC))[1], max(ts), (array_agg(msg_uuid ORDER BY ts DESC, msg_uuid DESC))[1]
               FROM telemetry WHERE ts >= $1 AND ts < $2 GROUP BY 1, 2, 3`,
        values: [new Date(d).toISOString(), new Date(d + DAY).toISOString()],
      })
    }
    // Older minutes: 6 samples per minute, as the raw rows would have given.
    await pool.query({
      text: `WITH gpu AS MATERIALIZED (SELECT ${seedGpuUuidSql('g')} AS gpu_uuid FROM generate_series(0, $4::int - 1) AS g)
             INSERT INTO telemetry_1m (gpu_uuid, metric_name, bucket, count, sum, min, max, last, last_ts, last_msg)
             SELECT gpu.gpu_uuid, m, b, 6, 6 * v, v - 5, v + 5, v, b + interval '50 seconds', gen_random_uuid()
             FROM generate_series(to_timestamp($1 / 1000.0), to_timestamp($2 / 1000.0) - interval '1 minute', interval '1 minute') AS b,
                  unnest($3::text[]) AS m, gpu,
                  LATERAL (SELECT round((random() * 90 + 5)::numeric, 2)::double precision AS v) AS x`,
      values: [oldest, start, s.rollupMetrics, s.gpus],
    })
    log(`  rollups built in ${Math.round((Date.now() - t1) / 1000)} s`)
    await pool.query(`INSERT INTO telemetry_latest (gpu_uuid, metric_name, value, ts, msg_uuid)
                      SELECT DISTINCT ON (gpu_uuid, metric_name) gpu_uuid, metric_name, value, ts, msg_uuid
                      FROM telemetry WHERE ts >= (SELECT max(ts) - interval '1 minute' FROM telemetry)
                      ORDER BY gpu_uuid, metric_name, ts DESC, msg_uuid DESC`)
    await pool.query(`INSERT INTO gpus (gpu_uuid, hostname, gpu_id, device, model_name, last_seen)
                      SELECT DISTINCT ON (gpu_uuid) gpu_uuid, hostname, gpu_id, device, model_name, ts
                      FROM telemetry WHERE ts >= (SELECT max(ts) - interval '1 minute' FROM telemetry)
                      ORDER BY gpu_uuid, ts DESC`)
  } finally {
    await pool.query('ALTER TABLE telemetry ENABLE TRIGGER telemetry_mark_dirty_after_insert')
    await pool.query('ALTER TABLE telemetry ENABLE TRIGGER telemetry_gpus_after_insert')
  }
  log('  vacuum analyze…')
  for (const t of ['telemetry', 'telemetry_1m', 'telemetry_latest', 'gpus']) await pool.query(`VACUUM (ANALYZE) ${t}`)
}
