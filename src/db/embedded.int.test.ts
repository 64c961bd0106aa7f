// Issue 17: the embedded PostgreSQL of each home has its own random superuser password (a 0600 file
// in the home), listens on loopback only, and a home created with the old shared password is migrated.
import { mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { ensureEmbedded, LEGACY_EMBEDDED_PASSWORD, passwordFile, stopEmbedded } from './embedded.js'

const home = mkdtempSync(join(tmpdir(), 'tpipe-embedded-'))

async function connectAs(port: number, password: string): Promise<string> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'tpipe', password, database: 'postgres' })
  try {
    await c.connect()
    return 'ok'
  } catch (err) {
    return (err as { code?: string }).code ?? 'error'
  } finally {
    await c.end().catch(() => {})
  }
}

afterAll(async () => {
  await stopEmbedded(home).catch(() => {})
  rmSync(home, { recursive: true, force: true })
})

describe('embedded PostgreSQL credentials', () => {
  it('a new home gets a random password in a 0600 file, the old shared one is refused, loopback only', async () => {
    const status = await ensureEmbedded(home)
    const mode = statSync(passwordFile(home)).mode & 0o777
    expect(mode).toBe(0o600)
    const password = decodeURIComponent(new URL(status.url).password)
    expect(password).not.toBe(LEGACY_EMBEDDED_PASSWORD)
    expect(password.length).toBeGreaterThanOrEqual(24)
    expect(await connectAs(status.port, LEGACY_EMBEDDED_PASSWORD)).toBe('28P01')
    expect(await connectAs(status.port, password)).toBe('ok')
    const c = new pg.Client({ connectionString: status.url })
    await c.connect()
    try {
      const r = await c.query(`SELECT current_setting('listen_addresses') AS l, current_setting('unix_socket_directories') AS u`)
      expect(r.rows[0]).toEqual({ l: '127.0.0.1', u: '' })
    } finally {
      await c.end()
    }
  }, 120_000)

  it('a home still on the old shared password is migrated to its own on the next start', async () => {
    const before = await ensureEmbedded(home)
    const c = new pg.Client({ connectionString: before.url })
    await c.connect()
    await c.query(`ALTER ROLE tpipe PASSWORD '${LEGACY_EMBEDDED_PASSWORD}'`) // what every old home has
    await c.end()
    unlinkSync(passwordFile(home))
    await stopEmbedded(home)

    const after = await ensureEmbedded(home)
    const password = decodeURIComponent(new URL(after.url).password)
    expect(password).not.toBe(LEGACY_EMBEDDED_PASSWORD)
    expect(statSync(passwordFile(home)).mode & 0o777).toBe(0o600)
    expect(await connectAs(after.port, LEGACY_EMBEDDED_PASSWORD)).toBe('28P01')
    expect(await connectAs(after.port, password)).toBe('ok')
  }, 120_000)
})
