// mqwriter: single-message publishes/s and latency at 64 keep-alive connections, then 100-message
// arrays — a real `tpipe serve mqwriter` process, a load generator in another process, and a count of
// the rows in queue_messages afterwards to show every 201 was durable.
import type { Pool } from '../../src/db/pool.js'
import type { LoadResult } from './ceilings.js'
import { port, runJsonChild, startService } from '../proc.js'

export interface WriterRun extends LoadResult {
  messagesPerSecond: number
  stored: number
  acknowledged: number
}

export async function mqwriterRun(pool: Pool, databaseUrl: string, durationS: number, mode: 'single' | 'array:100', connections = 64): Promise<WriterRun> {
  await pool.query('TRUNCATE queue_messages')
  const svc = await startService('mqwriter', await port(), { DATABASE_URL: databaseUrl })
  try {
    const r = await runJsonChild<LoadResult>('load.ts', { url: `${svc.url}/v1/publish`, connections, durationS, mode })
    const perRequest = mode === 'single' ? 1 : 100
    const stored = Number((await pool.query('SELECT count(*) AS n FROM queue_messages')).rows[0].n)
    const acknowledged = (r.total - r.non2xx) * perRequest
    return { ...r, messagesPerSecond: r.requestsPerSecond * perRequest, stored, acknowledged }
  } finally {
    await svc.stop()
  }
}
