import { execa } from 'execa'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { collationWarning, migrate, migrationFiles, migrationStatus } from './migrate.js'

async function tables(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const r = await c.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    return r.rows.map((x) => x.tablename)
  } finally {
    await c.end()
  }
}

/** Whether the server was built with lz4 (Debian's and the official image's are; the embedded one is not). */
async function hasLz4(pool: pg.Pool): Promise<boolean> {
  return (await pool.query("SELECT 'lz4' = ANY(enumvals) AS ok FROM pg_settings WHERE name = 'default_toast_compression'")).rows[0].ok as boolean
}

describe('migrations', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false })
  })
  afterAll(async () => {
    await db.drop()
  })

  it('go up, all the way down, and up again on an empty database', async () => {
    const all = migrationFiles()
    expect(all.length).toBeGreaterThanOrEqual(1)
    const up = await migrate(db.url, 'up')
    expect(up.applied).toEqual(all)
    // What the migrations say reaches the caller: on a server without lz4 (the embedded one), that queue
    // payloads are stored uncompressed; with lz4, nothing about it.
    const lz4 = await hasLz4(db.pool)
    expect(up.notices.filter((n) => /lz4/.test(n))).toEqual(
      lz4 ? [] : ['this PostgreSQL is built without lz4: queue payloads are not lz4-compressed', expect.stringMatching(/^without lz4, queue payloads are stored uncompressed instead/)],
    )
    expect(await tables(db.url)).toEqual(expect.arrayContaining(['queue_messages', 'telemetry', 'pgmigrations']))
    expect((await migrationStatus(db.url)).every((m) => m.applied)).toBe(true)

    const down = await migrate(db.url, 'down', { count: Infinity })
    expect(down.applied).toEqual([...all].reverse())
    expect(await tables(db.url)).toEqual(['pgmigrations'])
    expect((await migrationStatus(db.url)).some((m) => m.applied)).toBe(false)

    const again = await migrate(db.url, 'up')
    expect(again.applied).toEqual(all)
    expect((await migrate(db.url, 'up')).applied).toEqual([]) // nothing left to do
  })

  it('two concurrent `migrate up` runs both succeed and apply each migration once', async () => {
    const fresh = await createTestDatabase({ migrate: false })
    try {
      const [a, b] = await Promise.all([migrate(fresh.url, 'up'), migrate(fresh.url, 'up')])
      expect([...a.applied, ...b.applied].sort()).toEqual(migrationFiles())
      const r = await fresh.pool.query('SELECT count(*)::int AS n FROM pgmigrations')
      expect(r.rows[0].n).toBe(migrationFiles().length)
    } finally {
      await fresh.drop()
    }
  })

  it("reports the database's collation, and advises the bytewise C collation when it is a language's", async () => {
    // C.UTF-8 is in every glibc since 2.35 and is not bytewise to PostgreSQL (strcoll), like en_US.UTF-8.
    const utf8 = await createTestDatabase({ migrate: false, locale: 'C.UTF-8' })
    const c = await createTestDatabase({ migrate: false, locale: 'C' })
    try {
      // The built CLI (npm test builds first) warns on stderr and still migrates.
      const cli = await execa('node', ['bin/run.js', 'migrate', 'up'], { reject: false, env: { TPIPE_DATABASE_URL: utf8.url, NO_COLOR: '1', NODE_ENV: 'production' }, timeout: 60_000 })
      expect(cli.exitCode, cli.stderr).toBe(0)
      expect(cli.stdout).toMatch(/^applied: /)
      // and prints what the migrations said
      if (!(await hasLz4(utf8.pool))) expect(cli.stdout).toMatch(/^notice: without lz4, queue payloads are stored uncompressed instead/m)
      expect(cli.stderr).toMatch(new RegExp(`Warning: database ${utf8.name} collates text in C\\.UTF-8`))
      const [a, b] = await Promise.all([migrate(utf8.url, 'up'), migrate(c.url, 'up')])
      expect(a.applied).toEqual([])
      expect(a.collation).toBe('C.UTF-8')
      expect(b.collation).toBe('C')
      expect(collationWarning(utf8.name, a.collation)).toMatch(new RegExp(`^database ${utf8.name} collates text in C\\.UTF-8: .*LC_COLLATE 'C'`))
      expect(collationWarning(c.name, b.collation)).toBeUndefined()
      expect(collationWarning('x', 'POSIX')).toBeUndefined()
    } finally {
      await Promise.all([utf8.drop(), c.drop()])
    }
  })

  it('status lists pending migrations on a new database', async () => {
    const fresh = await createTestDatabase({ migrate: false })
    try {
      const s = await migrationStatus(fresh.url)
      expect(s.map((m) => m.name)).toEqual(migrationFiles())
      expect(s.every((m) => !m.applied && m.runOn === null)).toBe(true)
    } finally {
      await fresh.drop()
    }
  })
})
