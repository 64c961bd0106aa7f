import { randomBytes } from 'node:crypto'
import type { Pool } from '../../src/db/pool.js'

export interface SeedOptions {
  rows: number
  gpus: number
  start: Date
  /** Time between two scrapes of one GPU; each scrape writes one row per metric (10). */
  stepMs: number
  /** Rows per INSERT statement (one transaction each); keeps the trigger's transition table bounded. */
  chunk?: number
}

export const SEED_METRICS = [
  'DCGM_FI_DEV_GPU_UTIL',
  'DCGM_FI_DEV_MEM_COPY_UTIL',
  'DCGM_FI_DEV_ENC_UTIL',
  'DCGM_FI_DEV_DEC_UTIL',
  'DCGM_FI_DEV_FB_FREE',
  'DCGM_FI_DEV_FB_USED',
  'DCGM_FI_DEV_GPU_TEMP',
  'DCGM_FI_DEV_POWER_USAGE',
  'DCGM_FI_DEV_SM_CLOCK',
  'DCGM_FI_DEV_MEM_CLOCK',
] as const

/** The uuid seedTelemetry gives GPU number g (0-based), so a benchmark can address one. */
export function seedGpuUuidSql(g: string): string {
  return `'GPU-' || md5('tpipe-seed-' || ${g})::uuid::text`
}

/**
 * Bulk-inserts synthetic telemetry in SQL (generate_series), for benchmarks and tests: row i belongs to
 * GPU i % gpus, metric (i / gpus) % 10, scrape i / (gpus * 10), at start + scrape * stepMs. msg_uuids
 * are time-ordered-like (a random prefix per call, then i) so the primary key grows at its right edge
 * as it does with UUIDv7. The gpus table is filled by the telemetry trigger; the tables are vacuumed and
 * analysed at the end. Returns the GPU uuids.
 */
export async function seedTelemetry(pool: Pool, opts: SeedOptions): Promise<{ rows: number; gpuUuids: string[] }> {
  if (!Number.isSafeInteger(opts.rows) || opts.rows < 0) throw new Error('rows must be a non-negative integer')
  if (!Number.isSafeInteger(opts.gpus) || opts.gpus < 1) throw new Error('gpus must be a positive integer')
  const chunk = opts.chunk ?? 500_000
  const prefix = randomBytes(4).toString('hex')
  const text = `
    INSERT INTO telemetry (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts, labels)
    SELECT (($5::text) || '-' || substr(lpad(to_hex(i), 24, '0'), 1, 4) || '-7' || substr(lpad(to_hex(i), 24, '0'), 6, 3)
              || '-8' || substr(lpad(to_hex(i), 24, '0'), 10, 3) || '-' || substr(lpad(to_hex(i), 24, '0'), 13, 12))::uuid,
           ${seedGpuUuidSql('g')},
           (g % 8)::smallint,
           'nvidia' || (g % 8),
           'seed-host-' || lpad((g / 8)::text, 3, '0'),
           'NVIDIA H100 80GB HBM3',
           ($6::text[])[m + 1],
           round((random() * 100)::numeric, 3)::double precision,
           $3::timestamptz + make_interval(secs => (s * $4::bigint) / 1000.0),
           NULL
    FROM generate_series($1::bigint, $2::bigint - 1) AS i,
         LATERAL (SELECT i % $7 AS g, (i / $7) % 10 AS m, i / ($7 * 10) AS s) AS x`
  for (let from = 0; from < opts.rows; from += chunk) {
    const to = Math.min(opts.rows, from + chunk)
    await pool.query({ text, values: [from, to, opts.start.toISOString(), opts.stepMs, prefix, SEED_METRICS, opts.gpus] })
  }
  // Settle the table as autovacuum eventually would: all-visible pages make the page query index-only.
  await pool.query('VACUUM (ANALYZE) telemetry')
  await pool.query('VACUUM (ANALYZE) gpus')
  const uuids = await pool.query<{ u: string }>({
    text: `SELECT ${seedGpuUuidSql('g')} AS u FROM generate_series(0, $1::int - 1) AS g ORDER BY g`,
    values: [Math.min(opts.gpus, opts.rows)],
  })
  return { rows: opts.rows, gpuUuids: uuids.rows.map((r) => r.u) }
}
