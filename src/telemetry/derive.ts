// The incremental job that keeps telemetry_latest, telemetry_1m and telemetry_1h current: every interval it
// consumes what the ingest trigger recorded — each statement's newest sample per series (migration
// 1764209300000), applied to latest values at once, and the minutes that got rows (migration
// 1764202000000, section 6), whose rollups (and their hour's, migration 1764209200000) are recomputed once
// the minute has been quiet for a few seconds. One
// run at a time across every process (try-lock: a replica that does not get it skips the tick).
import type { Logger } from 'pino'
import type { Pool } from '../db/pool.js'
import { Counter, Histogram, type Registry } from '../metrics/index.js'

/** pg_try_advisory_lock key: "tpipe derive". */
export const DERIVE_LOCK_KEY = 7_466_272_736_914

export interface DeriveResult {
  ran: boolean
  latest: number
  rollups: number
}

/**
 * One run on a pooled connection. `quietSeconds` 0 recomputes every marked minute now (tests,
 * benchmarks); the default waits until a minute has had no new rows for 5 s (or 60 s at most).
 */
export async function deriveOnce(pool: Pool, opts: { quietSeconds?: number } = {}): Promise<DeriveResult> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [DERIVE_LOCK_KEY])
    if (!got.rows[0]?.ok) return { ran: false, latest: 0, rollups: 0 }
    try {
      const l = await client.query<{ n: string }>('SELECT tpipe_refresh_latest() AS n')
      const r =
        opts.quietSeconds === undefined
          ? await client.query<{ n: string }>('SELECT tpipe_refresh_rollups() AS n')
          : await client.query<{ n: string }>('SELECT tpipe_refresh_rollups(make_interval(secs => $1), make_interval(secs => $1)) AS n', [opts.quietSeconds])
      return { ran: true, latest: Number(l.rows[0]?.n ?? 0), rollups: Number(r.rows[0]?.n ?? 0) }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [DERIVE_LOCK_KEY])
    }
  } catch (err) {
    broken = err as Error
    throw err
  } finally {
    // A session that failed may still hold the advisory lock: never hand it back to the pool.
    client.release(broken)
  }
}

export interface DeriveLoop {
  stop(): Promise<void>
}

export function startDeriveLoop(opts: { pool: Pool; registry: Registry; log: Logger; intervalMs: number }): DeriveLoop {
  const latest = new Counter({ name: 'telemetry_latest_updates_total', help: 'Latest-value rows written by the derive job.', registers: [opts.registry] })
  const rollups = new Counter({ name: 'telemetry_rollup_rows_total', help: 'Per-minute rollup rows (re)computed by the derive job.', registers: [opts.registry] })
  const failures = new Counter({ name: 'telemetry_derive_failures_total', help: 'Derive runs that failed (retried next interval; the marks stay).', registers: [opts.registry] })
  const duration = new Histogram({
    name: 'telemetry_derive_duration_seconds',
    help: 'Time of one derive run (latest values and rollups).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [opts.registry],
  })
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  async function tick(): Promise<void> {
    const t0 = performance.now()
    try {
      const r = await deriveOnce(opts.pool)
      if (r.ran) {
        latest.inc(r.latest)
        rollups.inc(r.rollups)
        duration.observe((performance.now() - t0) / 1000)
      }
    } catch (err) {
      failures.inc()
      opts.log.warn({ err: (err as Error).message }, 'telemetry derive run failed; retrying next interval')
    }
  }
  function schedule(): void {
    if (stopped) return
    timer = setTimeout(() => {
      running = tick().finally(() => {
        running = undefined
        schedule()
      })
    }, opts.intervalMs)
    timer.unref()
  }
  if (opts.intervalMs > 0) schedule()
  return {
    async stop() {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
