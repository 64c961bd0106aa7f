import { cpus, totalmem } from 'node:os'
import type { Pool } from '../src/db/pool.js'

export interface MachineInfo {
  cpuModel: string
  cores: number
  memoryGiB: number
  node: string
  postgres: string
  date: string
}

export async function machineInfo(pool: Pool): Promise<MachineInfo> {
  const pg = await pool.query<{ server_version: string }>('SHOW server_version')
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    postgres: pg.rows[0]?.server_version ?? 'unknown',
    date: new Date().toISOString(),
  }
}
