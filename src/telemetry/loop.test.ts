// A maintenance pass with no database reachable is a failed pass, never an unhandled rejection (the
// collector's maintenance loop starts before the database may be up; CI caught one such rejection).
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createPool } from '../db/pool.js'
import { createRegistry } from '../metrics/index.js'
import { freePort } from '../util/net.js'
import { startMaintenanceLoop } from './loop.js'

describe('maintenance loop', () => {
  it('counts a pass that cannot connect as failed and resolves', async () => {
    const pool = createPool(`postgres://x:y@127.0.0.1:${await freePort()}/none`, { max: 1, applicationName: 'loop-test' })
    const registry = createRegistry({ defaultMetrics: false })
    const loop = startMaintenanceLoop({ pool, registry, log: pino({ level: 'silent' }), intervalMs: 0, maintain: { partitionDays: 1, aheadDays: 2, retentionDays: 7, rollupRetentionDays: 90 } as never })
    await expect(loop.runOnce()).resolves.toBeUndefined()
    expect(await registry.getSingleMetricAsString('telemetry_maintenance_runs_total')).toMatch(/result="failed"} 1/)
    await loop.stop()
    await pool.end()
  })
})
