// One `tpipe dev` per TPIPE_HOME. The lock is a listening Unix socket: on Linux in the abstract
// namespace (no file; the kernel frees it the moment the process dies, so a crash can never leave it
// stale), elsewhere a socket file next to the system's temp files whose staleness is tested by
// connecting to it. Whoever holds it answers a connection with what it is (pid, URLs), so a second
// `tpipe dev` can say exactly which instance is running.
import { createHash } from 'node:crypto'
import { mkdirSync, realpathSync, rmSync } from 'node:fs'
import { connect, createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface InstanceInfo {
  pid: number
  home: string
  startedAt: string
  /** Filled in once the services are up. */
  apigw?: string
  control?: string
  logs?: string
}

export class InstanceRunningError extends Error {
  constructor(readonly info: InstanceInfo | undefined, home: string) {
    super(
      info
        ? `another tpipe dev (pid ${info.pid}, started ${info.startedAt}) is running on ${home}` +
            (info.apigw ? `: apigw ${info.apigw}, control ${info.control}` : ' and still starting') +
            '. Stop it first (Ctrl-C in its terminal), or use another TPIPE_HOME.'
        : `another tpipe dev is running on ${home} (it does not answer). Stop it first, or use another TPIPE_HOME.`,
    )
    this.name = 'InstanceRunningError'
  }
}

function lockAddress(home: string): { path: string; file: boolean } {
  mkdirSync(home, { recursive: true })
  const id = createHash('sha1').update(realpathSync(home)).digest('hex').slice(0, 16)
  if (process.platform === 'linux') return { path: `\0tpipe-dev-${id}`, file: false }
  return { path: join(tmpdir(), `tpipe-dev-${id}.sock`), file: true }
}

/** Asks the lock holder what it is; undefined when nobody answers (a stale socket file). */
function ask(path: string, timeoutMs = 2000): Promise<{ answered: boolean; info?: InstanceInfo }> {
  return new Promise((resolve) => {
    let data = ''
    const sock = connect(path)
    const timer = setTimeout(() => {
      sock.destroy()
      resolve({ answered: true })
    }, timeoutMs)
    sock.on('data', (d: Buffer) => (data += d.toString()))
    sock.on('end', () => {
      clearTimeout(timer)
      try {
        resolve({ answered: true, info: JSON.parse(data) as InstanceInfo })
      } catch {
        resolve({ answered: true })
      }
    })
    sock.on('error', () => {
      clearTimeout(timer)
      resolve({ answered: false })
    })
  })
}

/** What is running on this home, if anything (never throws). */
export async function runningInstance(home: string): Promise<InstanceInfo | undefined> {
  const { path } = lockAddress(home)
  const r = await ask(path)
  return r.answered ? (r.info ?? { pid: 0, home, startedAt: '?' }) : undefined
}

export class DevLock {
  private constructor(
    private readonly server: Server,
    private readonly file: string | undefined,
    private info: InstanceInfo,
  ) {}

  /** Takes the lock of this home, or throws InstanceRunningError naming the running instance. */
  static async acquire(home: string): Promise<DevLock> {
    const { path, file } = lockAddress(home)
    const info: InstanceInfo = { pid: process.pid, home, startedAt: new Date().toISOString() }
    for (let attempt = 0; attempt < 2; attempt++) {
      const holder: { lock?: DevLock } = {}
      const server = createServer((sock) => {
        sock.on('error', () => {})
        sock.end(JSON.stringify(holder.lock?.info ?? info))
      })
      const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
        server.once('error', resolve)
        server.listen(path, () => resolve(undefined))
      })
      if (!err) {
        server.unref() // the lock must not keep the process alive on its own
        holder.lock = new DevLock(server, file ? path : undefined, info)
        return holder.lock
      }
      if (err.code !== 'EADDRINUSE') throw new Error(`cannot take the tpipe dev lock for ${home}: ${err.message}`)
      const r = await ask(path)
      if (r.answered) throw new InstanceRunningError(r.info, home)
      // A socket file nobody listens on: left by a crash (only possible off Linux). Remove, retry once.
      if (file) rmSync(path, { force: true })
    }
    throw new Error(`cannot take the tpipe dev lock for ${home}`)
  }

  update(patch: Partial<InstanceInfo>): void {
    this.info = { ...this.info, ...patch }
  }

  async release(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
    if (this.file) rmSync(this.file, { force: true })
  }
}
