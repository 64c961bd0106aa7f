// The maintenance loop the collector runs: one pass at start, then every interval. Every replica runs
// the loop; the advisory lock lets one pass run at a time, the others skip. A failed pass (lock timeout,
// lost connection) is logged and counted, and the next one tries again: partitions are created days
// ahead, so a few failed passes change nothing for ingest.
import type { Logger } from 'pino'
import type { PoolClient } from 'pg'
import type { Pool } from '../db/pool.js'
import { Counter, Gauge, type Registry } from '../metrics/index.js'
import { maintain, type MaintainOptions, type MaintainResult } from './maintain.js'

export interface MaintenanceLoop {
  /** Resolves when the running pass (if any) has finished. */
  stop(): Promise<void>
  /** Runs one pass now (tests). */
  runOnce(): Promise<MaintainResult | undefined>
}

export function startMaintenanceLoop(opts: {
  pool: Pool
  registry: Registry
  log: Logger
  intervalMs: number
  maintain: Omit<MaintainOptions, 'now' | 'dryRun'>
}): MaintenanceLoop {
  const runs = new Counter({ name: 'telemetry_maintenance_runs_total', help: 'Maintenance passes by result: ran, skipped (another process held the lock), failed.', labelNames: ['result'] as const, registers: [opts.registry] })
  const created = new Counter({ name: 'telemetry_partitions_created_total', help: 'Partitions created by maintenance (raw and rollups).', labelNames: ['table'] as const, registers: [opts.registry] })
  const dropped = new Counter({ name: 'telemetry_partitions_dropped_total', help: 'Partitions dropped past retention (raw and rollups).', labelNames: ['table'] as const, registers: [opts.registry] })
  const defaultRows = new Gauge({
    name: 'telemetry_default_partition_rows',
    help: 'Rows in the default partition after the last pass: far-future samples waiting for their partition (late ones are moved into theirs).',
    labelNames: ['table'] as const,
    registers: [opts.registry],
  })
  let timer: NodeJS.Timeout | undefined
  let running: Promise<MaintainResult | undefined> | undefined
  let stopped = false

  async function pass(): Promise<MaintainResult | undefined> {
    let client: PoolClient
    try {
      client = await opts.pool.connect()
    } catch (err) {
      // No database (yet, or for a while): a failed pass like any other, never an unhandled rejection.
      runs.inc({ result: 'failed' })
      opts.log.warn({ err: (err as Error).message }, 'telemetry maintenance failed to connect; retrying next interval')
      return undefined
    }
    let broken: Error | undefined
    try {
      const r = await maintain(client, opts.maintain)
      runs.inc({ result: r.ran ? 'ran' : 'skipped' })
      if (r.ran) {
        for (const p of r.created) created.inc({ table: p.table })
        for (const p of r.dropped) dropped.inc({ table: p.table })
        for (const [t, n] of Object.entries(r.defaultRows)) defaultRows.set({ table: t }, n)
        if (r.created.length || r.dropped.length || r.expiredSeries) {
          opts.log.info({ created: r.created.map((p) => p.name), dropped: r.dropped.map((p) => `${p.name} (${p.ms} ms)`), defaultRows: r.defaultRows, expiredSeries: r.expiredSeries }, 'telemetry maintenance')
        }
      }
      return r
    } catch (err) {
      runs.inc({ result: 'failed' })
      opts.log.warn({ err: (err as Error).message }, 'telemetry maintenance failed; retrying next interval')
      broken = err as Error
      return undefined
    } finally {
      // A session that failed mid-pass may still hold the advisory lock: never hand it back to the pool.
      client.release(broken)
    }
  }

  function runOnce(): Promise<MaintainResult | undefined> {
    running ??= pass().finally(() => {
      running = undefined
    })
    return running
  }

  function schedule(): void {
    if (stopped || opts.intervalMs <= 0) return
    timer = setTimeout(() => void runOnce().finally(schedule), opts.intervalMs)
    timer.unref()
  }

  if (opts.intervalMs > 0) void runOnce().finally(schedule)

  return {
    runOnce,
    async stop() {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
