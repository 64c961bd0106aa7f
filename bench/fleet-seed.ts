// Seeds the api benchmark's fleet: GPUs × 10 metrics every stepMs, ending at a fixed time, into the
// partitioned telemetry table in SQL (generate_series, one day per statement into a table attached as
// that day's partition), then the derived tables the ingest trigger would have built (rollups, latest
// values, gpus) in a few set-based statements. Resumable by day: 50M rows take a while on a shared machine. Older rollups (before the raw rows,
// as if raw retention had dropped them) are seeded for a few metrics, for the 30-day queries; the hourly
// rollups are built from all the minutes. A database seeded before telemetry_1h existed gets its hours from
// migration 1764209200000 (one INSERT … SELECT from telemetry_1m), so it is never seeded again for them.
import type { Pool } from '../src/db/pool.js'
import { HOUR_ROLLUP_PARTITION_MS } from '../src/telemetry/maintain.js'
import { SEED_METRICS, seedGpuUuidSql } from '../test/support/seed.js'

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

export function fleetSpan(s: FleetSeed): { start: number; scrapes: number } {
  const scrapes = Math.ceil(s.rows / (s.gpus * SEED_METRICS.length))
  return { start: s.end.getTime() - scrapes * s.stepMs, scrapes }
}

export async function seedFleet(pool: Pool, s: FleetSeed): Promise<void> {
  const log = s.log ?? (() => {})
  const { start, scrapes } = fleetSpan(s)
  const oldest = start - s.rollupDays * DAY
  for (let w = Math.floor(oldest / (7 * DAY)) * 7 * DAY; w < s.end.getTime(); w += 7 * DAY) {
    await pool.query('SELECT tpipe_ensure_partition($1, $2, $3, $4)', ['telemetry_1m', 'bucket', new Date(w).toISOString(), new Date(w + 7 * DAY).toISOString()])
  }
  const slot = HOUR_ROLLUP_PARTITION_MS
  for (let w = Math.floor(oldest / slot) * slot; w < s.end.getTime(); w += slot) {
    await pool.query('SELECT tpipe_ensure_partition($1, $2, $3, $4)', ['telemetry_1h', 'bucket', new Date(w).toISOString(), new Date(w + slot).toISOString()])
  }
  // Raw rows day by day, each day into a table of its own with no index, then attached as the day's
  // partition (PostgreSQL builds the partition's indexes at ATTACH, sorted: several times faster than
  // maintaining them row by row). A day already attached is kept, so an interrupted seed resumes. Rows
  // bypass the ingest triggers; the derived tables are built in bulk below.
  const t0 = Date.now()
  let seeded = 0
  for (let d = Math.floor(start / DAY) * DAY; d < s.end.getTime(); d += DAY) {
    const name = `telemetry_p${new Date(d).toISOString().slice(0, 10).replaceAll('-', '')}`
    const attached = await pool.query('SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass($1) AND inhparent = $2::regclass', [name, 'telemetry'])
    if (attached.rowCount) continue
    const from = Math.max(0, Math.ceil((d - start) / s.stepMs))
    const to = Math.min(scrapes, Math.ceil((d + DAY - start) / s.stepMs))
    await pool.query(`DROP TABLE IF EXISTS ${name}`)
    await pool.query(`CREATE TABLE ${name} (LIKE telemetry INCLUDING DEFAULTS) WITH (autovacuum_vacuum_insert_scale_factor = 0.02)`)
    await pool.query({
      // GPU attributes computed once per GPU (not per row): the seed is CPU-bound on a shared machine.
      text: `WITH gpu AS MATERIALIZED (
               SELECT ${seedGpuUuidSql('g')} AS gpu_uuid, (g % 8)::smallint AS gpu_id, 'nvidia' || (g % 8) AS device,
                      'seed-host-' || lpad((g / 8)::text, 3, '0') AS hostname,
                      CASE WHEN g % 3 = 0 THEN 'NVIDIA A100-SXM4-80GB' ELSE 'NVIDIA H100 80GB HBM3' END AS model_name
               FROM generate_series(0, $6::int - 1) AS g
             )
             INSERT INTO ${name} (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts)
             SELECT gen_random_uuid(), gpu.gpu_uuid, gpu.gpu_id, gpu.device, gpu.hostname, gpu.model_name, metric, random() * 100,
                    to_timestamp(($3::bigint + sc * $4::bigint) / 1000.0)
             FROM generate_series($1::bigint, $2::bigint - 1) AS sc, unnest($5::text[]) AS metric, gpu`,
      values: [from, to, start, s.stepMs, SEED_METRICS, s.gpus],
    })
    await pool.query(`ALTER TABLE telemetry ATTACH PARTITION ${name} FOR VALUES FROM ('${new Date(d).toISOString()}') TO ('${new Date(d + DAY).toISOString()}')`)
    seeded += (to - from) * s.gpus * SEED_METRICS.length
    log(`  seeded ${name}: ${((to - from) * s.gpus * SEED_METRICS.length).toLocaleString('en')} rows (${Math.round(seeded / ((Date.now() - t0) / 1000)).toLocaleString('en')} rows/s so far)`)
  }
  if (seeded === 0 && (await pool.query('SELECT 1 FROM telemetry_latest LIMIT 1')).rowCount) {
    // Kept database: the migration filled telemetry_1h; a vacuum sets its visibility map so the hourly
    // queries are index-only from the first run (a second time it finds nothing to do).
    await pool.query('VACUUM (ANALYZE) telemetry_1h')
    return
  }
  log('  building rollups, latest values and gpus from the raw rows…')
  await pool.query('TRUNCATE telemetry_1m, telemetry_1h, telemetry_latest, gpus, gpus_json')
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
    values: [Math.floor(oldest / 60_000) * 60_000, Math.floor(start / 60_000) * 60_000, s.rollupMetrics, s.gpus],
  })
  // Hours from the minutes, as the derive job computes them (last: the newest minute's last).
  await pool.query(`INSERT INTO telemetry_1h (gpu_uuid, metric_name, bucket, count, sum, min, max, last, last_ts, last_msg)
                    SELECT gpu_uuid, metric_name, date_trunc('hour', bucket, 'UTC'), sum(count), sum(sum), min(min), max(max),
                           (array_agg(last ORDER BY last_ts DESC, last_msg DESC))[1], max(last_ts), (array_agg(last_msg ORDER BY last_ts DESC, last_msg DESC))[1]
                    FROM telemetry_1m GROUP BY 1, 2, 3`)
  log(`  rollups built in ${Math.round((Date.now() - t1) / 1000)} s`)
  await pool.query(`INSERT INTO telemetry_latest (gpu_uuid, metric_name, value, ts, msg_uuid)
                    SELECT DISTINCT ON (gpu_uuid, metric_name) gpu_uuid, metric_name, value, ts, msg_uuid
                    FROM telemetry WHERE ts >= (SELECT max(ts) - interval '1 minute' FROM telemetry)
                    ORDER BY gpu_uuid, metric_name, ts DESC, msg_uuid DESC`)
  await pool.query(`INSERT INTO gpus (gpu_uuid, hostname, gpu_id, device, model_name, last_seen)
                    SELECT DISTINCT ON (gpu_uuid) gpu_uuid, hostname, gpu_id, device, model_name, ts
                    FROM telemetry WHERE ts >= (SELECT max(ts) - interval '1 minute' FROM telemetry)
                    ORDER BY gpu_uuid, ts DESC`)
  log('  vacuum analyze…')
  for (const t of ['telemetry', 'telemetry_1m', 'telemetry_1h', 'telemetry_latest', 'gpus']) await pool.query(`VACUUM (ANALYZE) ${t}`)
}
