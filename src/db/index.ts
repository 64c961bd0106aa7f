// PostgreSQL layer: one pool per process (pool.ts), the transaction helper, named error codes,
// the embedded server under TPIPE_HOME, and the advisory-locked migration runner.
// Must not hold service state: services own their state, this folder only connects.
export * from './pool.js'
export * from './errors.js'
export * from './migrate.js'
export { ensureEmbedded, stopEmbedded, embeddedStatus, restartEmbedded, resetEmbedded, type EmbeddedStatus } from './embedded.js'
import { ensureEmbedded, stopEmbedded } from './embedded.js'

/**
 * The database URL a command uses: the configured one (TPIPE_DATABASE_URL / DATABASE_URL), else the
 * embedded PostgreSQL under TPIPE_HOME, started on demand.
 */
export async function resolveDatabaseUrl(
  config: { readonly databaseUrl?: string | undefined; readonly home: string },
  log: (msg: string) => void = () => {},
): Promise<string> {
  if (config.databaseUrl) return config.databaseUrl
  const status = await ensureEmbedded(config.home, log)
  return status.url
}

/**
 * Like resolveDatabaseUrl, for a command that runs and ends (migrate, bench): when it had to start the
 * embedded PostgreSQL itself, release() stops it again, so no server is left behind that the user did
 * not ask for. A server that was already running stays running.
 */
export async function useDatabase(
  config: { readonly databaseUrl?: string | undefined; readonly home: string },
  log: (msg: string) => void = () => {},
): Promise<{ url: string; release(): Promise<void> }> {
  if (config.databaseUrl) return { url: config.databaseUrl, release: async () => {} }
  const status = await ensureEmbedded(config.home, log)
  return {
    url: status.url,
    release: async () => {
      if (status.startedNow) await stopEmbedded(config.home).catch(() => {})
    },
  }
}
