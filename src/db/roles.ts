// Least-privilege database roles (issue 17). Migration 1764209000000 creates one NOLOGIN group role per
// service with exactly that service's rights; this module creates the LOGIN users the services connect as
// (members of those groups), each with its own random password, and builds their URLs. Run as the owner
// (the URL migrations use): `tpipe migrate up --roles`, `tpipe dev`, the charts' migration Job.
import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'

/** The services that connect to PostgreSQL (and the dashboards' viewer), with the group role holding their rights. */
export const SERVICE_GROUPS = {
  mqwriter: 'tpipe_mqwriter',
  mqreader: 'tpipe_mqreader',
  collector: 'tpipe_collector',
  apigw: 'tpipe_apigw',
  /** Not a service: read-only dashboards (Grafana), migration 1764209000001. */
  viewer: 'tpipe_viewer',
} as const
export type DbService = keyof typeof SERVICE_GROUPS
export const DB_SERVICES = Object.keys(SERVICE_GROUPS) as DbService[]

export interface ServiceLogin {
  service: DbService
  user: string
  password: string
}

/** A password for a service user: 32 random bytes, URL-safe (no quoting needed in a URL). */
export function randomPassword(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * The login user of a service for a database: `<database>_<service>_login`, so that two databases of one
 * cluster (a cluster's roles are shared) never fight over one user's password. Names over PostgreSQL's
 * 63 bytes use a hash of the database name instead.
 */
export function loginName(service: DbService, database: string): string {
  const name = `${database}_${service}_login`.toLowerCase()
  if (/^[a-z_][a-z0-9_]*$/.test(name) && Buffer.byteLength(name) <= 63) return name
  return `tpipe_${createHash('sha1').update(database).digest('hex').slice(0, 12)}_${service}_login`
}

/** The database a URL names (the path). */
export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres'
}

/** The owner's URL with another user and password (same host, port, database and options). */
export function serviceUrl(ownerUrl: string, login: { user: string; password: string }): string {
  const u = new URL(ownerUrl)
  u.username = encodeURIComponent(login.user)
  u.password = encodeURIComponent(login.password)
  return u.toString()
}

/**
 * The env names a deployment passes a service's user and password in (the charts' migration Job: from
 * the service's Secret): TPIPE_DB_USER_<SERVICE>, TPIPE_DB_PASSWORD_<SERVICE>.
 */
export function loginEnv(service: DbService): { user: string; password: string } {
  const s = service.toUpperCase()
  return { user: `TPIPE_DB_USER_${s}`, password: `TPIPE_DB_PASSWORD_${s}` }
}

/**
 * Creates (or updates: password, attributes, membership) each service's LOGIN user, as the owner. The
 * user gets no attribute beyond LOGIN (no superuser, no CREATEROLE/CREATEDB, no replication, no RLS
 * bypass) and only its service's group. Refuses a user that is the connecting role itself or a group role.
 * Needs CREATEROLE (or superuser) and the groups of migration 1764209000000.
 */
export async function ensureServiceLogins(ownerUrl: string, logins: readonly ServiceLogin[]): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl, application_name: 'tpipe-roles', connectionTimeoutMillis: 10_000, statement_timeout: 30_000 })
  await client.connect()
  try {
    const me = (await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u
    const groups = new Set<string>(Object.values(SERVICE_GROUPS))
    for (const l of logins) {
      const group = SERVICE_GROUPS[l.service]
      if (l.user === me || groups.has(l.user)) throw new Error(`refusing to make ${l.user} the login user of ${l.service}: it is ${l.user === me ? 'the owner itself' : 'a group role'}`)
      if (!l.password) throw new Error(`no password for the ${l.service} user ${l.user}`)
      const user = client.escapeIdentifier(l.user)
      const attrs = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD ${client.escapeLiteral(l.password)}`
      const exists = (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [l.user])).rowCount
      if (!exists) {
        try {
          await client.query(`CREATE ROLE ${user} ${attrs}`)
        } catch (err) {
          const code = (err as { code?: string }).code
          if (code !== '42710' && code !== '23505') throw err // created concurrently: update it below
          await client.query(`ALTER ROLE ${user} ${attrs}`)
        }
      } else {
        await client.query(`ALTER ROLE ${user} ${attrs}`)
      }
      await client.query(`GRANT ${client.escapeIdentifier(group)} TO ${user}`)
      // Only its own group: a user renamed between services, or granted more by hand, loses the rest.
      const others = await client.query<{ g: string }>(
        `SELECT g.rolname AS g FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
         WHERE u.rolname = $1 AND g.rolname <> $2`,
        [l.user, group],
      )
      for (const o of others.rows) await client.query(`REVOKE ${client.escapeIdentifier(o.g)} FROM ${user}`)
    }
  } finally {
    await client.end()
  }
}

/**
 * Each service's login for the database at `ownerUrl`: user and password from TPIPE_DB_USER_<SERVICE> /
 * TPIPE_DB_PASSWORD_<SERVICE> when set, else the default user name and the password `stored` returns
 * (a file under TPIPE_HOME for `tpipe dev`; a fresh random one otherwise).
 */
export function serviceLogins(ownerUrl: string, env: NodeJS.ProcessEnv, stored: (service: DbService) => string): ServiceLogin[] {
  const database = databaseOf(ownerUrl)
  return DB_SERVICES.map((service) => {
    const names = loginEnv(service)
    return { service, user: env[names.user] || loginName(service, database), password: env[names.password] || stored(service) }
  })
}

/** Where `tpipe dev` (and `tpipe migrate up --roles` without passwords in the env) keeps the service passwords. */
export function rolePasswordsFile(home: string): string {
  return join(home, 'service-roles.json')
}

function readPasswords(home: string): Partial<Record<DbService, string>> {
  try {
    return JSON.parse(readFileSync(rolePasswordsFile(home), 'utf8')) as Partial<Record<DbService, string>>
  } catch {
    return {}
  }
}

/**
 * The home's password of each service, created random when missing: one file, mode 0600 (like the
 * embedded superuser's password), written whole to a temporary file first and created exclusively the
 * first time, so two processes racing agree on one set.
 */
export function homePasswords(home: string): Record<DbService, string> {
  mkdirSync(home, { recursive: true })
  const file = rolePasswordsFile(home)
  const have = readPasswords(home)
  if (DB_SERVICES.every((s) => have[s])) return have as Record<DbService, string>
  const next = Object.fromEntries(DB_SERVICES.map((s) => [s, have[s] || randomPassword()])) as Record<DbService, string>
  const text = JSON.stringify(next, null, 2) + '\n'
  if (Object.keys(have).length === 0) {
    try {
      writeFileSync(file, text, { mode: 0o600, flag: 'wx' })
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err
      return homePasswords(home) // another process wrote it first: use theirs
    }
  } else {
    writeFileSync(file, text, { mode: 0o600 })
  }
  chmodSync(file, 0o600)
  return next
}

export interface ProvisionedLogin {
  service: DbService
  user: string
  url: string
}

/**
 * Each service's login user for the database at `ownerUrl`, created or updated now: names and passwords
 * from TPIPE_DB_USER_/TPIPE_DB_PASSWORD_<SERVICE> when set, else the default name and the home's
 * password file. Returns each service's URL.
 */
export async function provisionServiceLogins(ownerUrl: string, opts: { home: string; env?: NodeJS.ProcessEnv }): Promise<ProvisionedLogin[]> {
  const env = opts.env ?? process.env
  let stored: Record<DbService, string> | undefined
  const logins = serviceLogins(ownerUrl, env, (service) => (stored ??= homePasswords(opts.home))[service])
  await ensureServiceLogins(ownerUrl, logins)
  return logins.map((l) => ({ service: l.service, user: l.user, url: serviceUrl(ownerUrl, l) }))
}
