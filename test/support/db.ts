// A fresh database per test file: created from the admin URL, migrated, dropped when the file passes.
// Never a mock: every integration test talks to a real PostgreSQL.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { inject } from 'vitest'
import { createDatabaseSql, migrate } from '../../src/db/migrate.js'
import { createPool, type Pool } from '../../src/db/pool.js'

export interface TestDatabase {
  url: string
  name: string
  pool: Pool
  drop(): Promise<void>
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

/** `locale`: the database's LC_COLLATE and LC_CTYPE (from template0), else the server's default. */
export async function createTestDatabase(opts: { migrate?: boolean; prefix?: string; locale?: string } = {}): Promise<TestDatabase> {
  const admin = inject('adminDatabaseUrl')
  const name = `${opts.prefix ?? 'tpipe_test'}_${randomBytes(5).toString('hex')}`
  const c = new pg.Client({ connectionString: admin })
  await c.connect()
  await c.query(createDatabaseSql(name, opts.locale === undefined ? undefined : { collate: opts.locale, ctype: opts.locale }))
  await c.end()
  const url = withDatabase(admin, name)
  if (opts.migrate ?? true) await migrate(url, 'up')
  const pool = createPool(url, { max: 10, applicationName: 'tpipe-test' })
  return {
    url,
    name,
    pool,
    async drop() {
      await pool.end().catch(() => {})
      const d = new pg.Client({ connectionString: admin })
      await d.connect()
      await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      // The service login users `tpipe dev` / `migrate up --roles` made for this database (roles are the cluster's).
      const users = await d.query<{ r: string }>("SELECT rolname AS r FROM pg_roles WHERE starts_with(rolname, $1) AND rolname LIKE '%\\_login'", [`${name}_`])
      for (const u of users.rows) await d.query(`DROP ROLE IF EXISTS "${u.r}"`).catch(() => {})
      await d.end()
    },
  }
}
