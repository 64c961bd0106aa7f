import pg from 'pg'

export type Pool = pg.Pool
export type PoolClient = pg.PoolClient

export interface PoolOptions {
  max?: number
  applicationName?: string
  /** Called for errors of idle clients (e.g. the server restarted). Without it pg would crash the process. */
  onError?: (err: Error) => void
  /** statement_timeout of every session (a start-up parameter: no extra round trip, no race). */
  statementTimeoutMs?: number
  /** lock_timeout of every session: a statement waits at most this for a lock. */
  lockTimeoutMs?: number
  connectionTimeoutMs?: number
}

/** Margin of the client-side query timeout over statement_timeout: a frozen server never answers at all. */
const CLIENT_TIMEOUT_MARGIN_MS = 5000

/** One pg Pool per process, created at the composition root and passed down (no module singletons). */
export function createPool(connectionString: string, opts: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'tpipe',
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 5000,
    idleTimeoutMillis: 30000,
    keepAlive: true,
    ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs, query_timeout: opts.statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS } : {}),
    ...(opts.lockTimeoutMs ? { lock_timeout: opts.lockTimeoutMs } : {}),
  })
  pool.on('error', (err) => opts.onError?.(err))
  return pool
}

/**
 * Runs fn inside BEGIN … COMMIT on one client; ROLLBACK on error. A client whose connection broke is
 * destroyed rather than returned to the pool.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    const result = await fn(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    try {
      await client.query('ROLLBACK')
    } catch (rollbackErr) {
      broken = rollbackErr as Error
    }
    throw err
  } finally {
    client.release(broken)
  }
}

/** SELECT 1 with a short timeout: the database part of /readyz. Anything with a pg-style query() will do. */
export async function ping(pool: { query(q: { text: string; values: unknown[] }): Promise<unknown> }, timeoutMs = 1000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      pool.query({ text: 'SELECT 1', values: [] }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('ping timeout')), timeoutMs)
      }),
    ])
    return true
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}
