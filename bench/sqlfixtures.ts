// Bench tables and data made in SQL, so preloading 200,000 messages takes seconds, not minutes.
import type { Pool } from '../src/db/pool.js'

/** A JSON payload of the telemetry shape, built server-side for row i. */
export const PAYLOAD_SQL = `jsonb_build_object(
  'ts', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'metric_name', 'DCGM_FI_DEV_GPU_UTIL', 'gpu_id', i % 8, 'device', 'nvidia' || (i % 8),
  'gpu_uuid', 'GPU-' || lpad(to_hex(i % 247), 8, '0') || '-86f3-7a43-b711-4771313afc50',
  'model_name', 'NVIDIA H100 80GB HBM3', 'hostname', 'mtv5-dgx1-hgpu-' || (i % 31),
  'container', NULL, 'pod', NULL, 'namespace', NULL, 'value', (i % 100)::float8,
  'labels', jsonb_build_object('DCGM_FI_DRIVER_VERSION', '535.129.03', 'instance', 'mtv5-dgx1-hgpu-' || (i % 31) || ':9400'))`

/** Inserts n queue messages (keys over 247 GPUs, partitions by the GPU's index) into `table`. */
export async function preloadQueue(pool: Pool, table: string, n: number): Promise<void> {
  const chunk = 50_000
  for (let start = 0; start < n; start += chunk) {
    const end = Math.min(n, start + chunk) - 1
    await pool.query(
      `INSERT INTO ${table} (msg_uuid, partition, key, payload)
       SELECT gen_random_uuid(), (i % 247) % 256,
              'GPU-' || lpad(to_hex(i % 247), 8, '0') || '-86f3-7a43-b711-4771313afc50', ${PAYLOAD_SQL}
       FROM generate_series($1::int, $2::int) AS i`,
      [start, end],
    )
  }
  await pool.query(`ANALYZE ${table}`)
}
