import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { runner } from 'node-pg-migrate'

/** The migrations folder shipped with the package (top-level `migrations/`). */
export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'migrations')
const MIGRATIONS_TABLE = 'pgmigrations'
// Our own lock key: node-pg-migrate's built-in lock is a pg_try_advisory_lock that fails a concurrent
// run ("Another migration is already running"); we wait instead, so two `migrate up` both succeed.
const LOCK_KEY = 7_466_272_736_912 // "tpipe migrate"

export interface MigrationRun {
  direction: 'up' | 'down'
  applied: string[]
  /** The database's LC_COLLATE (`pg_database.datcollate`): see collationWarning. */
  collation: string
  /**
   * What the migrations said (RAISE NOTICE) while they ran: e.g. that the server has no lz4, so queue
   * payloads are stored uncompressed. `tpipe migrate up` prints them.
   */
  notices: string[]
}

/**
 * Why a database should not collate text in a language's order, or undefined when it compares bytewise (C,
 * POSIX). Telemetry's keys (GPU uuids, metric names, hostnames) are compared in every index probe and sort; under
 * a libc locale such as en_US.UTF-8 (the official postgres image's default) each comparison goes through
 * strcoll: measured, the collector's persist took 25–34% more of the database's time a row and remote_write
 * ingest ~9% fewer samples/s (BENCHMARKS.md, "Runs of 2026-12-01, evening"). An existing database keeps its
 * collation; the advice is for the next one.
 */
export function collationWarning(database: string, collation: string): string | undefined {
  if (collation === 'C' || collation === 'POSIX') return undefined
  return `database ${database} collates text in ${collation}: tpipe's keys compare faster bytewise (remote_write ingest measured ~10% faster in C). Create the next one with: ${createDatabaseSql(database, { collate: 'C', ctype: 'C.UTF-8' })} (the charts' PostgreSQL does: postgresql.initdbArgs)`
}

/**
 * `CREATE DATABASE`, in the server's default locale or (from template0, which any locale may copy) in the
 * given one. The locale names are checked, as they go into the statement's text.
 */
export function createDatabaseSql(name: string, locale?: { collate: string; ctype: string }): string {
  const ident = `"${name.replace(/"/g, '""')}"`
  if (!locale) return `CREATE DATABASE ${ident}`
  for (const l of [locale.collate, locale.ctype]) if (!/^[A-Za-z0-9_.@-]+$/.test(l)) throw new Error(`not a locale name: ${l}`)
  return `CREATE DATABASE ${ident} TEMPLATE template0 LC_COLLATE '${locale.collate}' LC_CTYPE '${locale.ctype}'`
}

export interface MigrationStatus {
  name: string
  applied: boolean
  runOn: string | null
}

function migrationsDir(): string {
  // dist/src/db → ../../../migrations; src/db (tsx, tests) → ../../migrations
  const candidates = [MIGRATIONS_DIR, join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations')]
  for (const c of candidates) {
    try {
      readdirSync(c)
      return c
    } catch {
      /* try next */
    }
  }
  throw new Error(`migrations folder not found (looked in ${candidates.join(', ')})`)
}

export function migrationFiles(): string[] {
  return readdirSync(migrationsDir())
    .filter((f) => /^\d+_.+\.(sql|js)$/.test(f))
    .sort()
    .map((f) => f.replace(/\.(sql|js)$/, ''))
}

/**
 * Runs migrations under a blocking advisory lock on a dedicated connection, so concurrent runs queue
 * up and the later ones find nothing left to do. `count` limits how many (down defaults to 1).
 */
export async function migrate(
  databaseUrl: string,
  direction: 'up' | 'down',
  opts: { count?: number; schema?: string; log?: (msg: string) => void } = {},
): Promise<MigrationRun> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'tpipe-migrate' })
  await client.connect()
  try {
    if (opts.schema) {
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${opts.schema.replace(/"/g, '""')}"`)
    }
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY])
    const notices: string[] = []
    const onNotice = (n: { message?: string }) => {
      if (n.message) notices.push(n.message)
    }
    client.on('notice', onNotice)
    try {
      const ran = await runner({
        dbClient: client,
        dir: migrationsDir(),
        direction,
        count: opts.count ?? (direction === 'down' ? 1 : Infinity),
        migrationsTable: MIGRATIONS_TABLE,
        ...(opts.schema ? { schema: opts.schema, createSchema: true, migrationsSchema: opts.schema } : {}),
        noLock: true,
        checkOrder: true,
        singleTransaction: true,
        log: opts.log ?? (() => {}),
        logger: { debug: () => {}, info: opts.log ?? (() => {}), warn: opts.log ?? (() => {}), error: opts.log ?? (() => {}) },
      })
      client.off('notice', onNotice)
      const db = await client.query<{ datcollate: string }>('SELECT datcollate FROM pg_database WHERE datname = current_database()')
      return { direction, applied: ran.map((m) => m.name), collation: db.rows[0]!.datcollate, notices }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {})
    }
  } finally {
    await client.end()
  }
}

export async function migrationStatus(databaseUrl: string, schema?: string): Promise<MigrationStatus[]> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'tpipe-migrate' })
  await client.connect()
  try {
    const table = `${schema ? `"${schema.replace(/"/g, '""')}".` : ''}${MIGRATIONS_TABLE}`
    let rows: { name: string; run_on: Date }[] = []
    try {
      rows = (await client.query<{ name: string; run_on: Date }>(`SELECT name, run_on FROM ${table} ORDER BY id`)).rows
    } catch (err) {
      if ((err as { code?: string }).code !== '42P01') throw err // no migrations table yet: nothing applied
    }
    const applied = new Map(rows.map((r) => [r.name, r.run_on]))
    return migrationFiles().map((name) => ({
      name,
      applied: applied.has(name),
      runOn: applied.get(name)?.toISOString() ?? null,
    }))
  } finally {
    await client.end()
  }
}
