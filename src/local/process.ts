// One supervised child process: `tpipe serve <service> …`, its log file, restarts with backoff.
// Owned by the Supervisor; must not decide topology (that is supervisor.ts).
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { PACKAGE_ROOT } from '../paths.js'
import type { ServiceName } from '../config/types.js'

export { PACKAGE_ROOT }
/** The built `tpipe` executable: the same command the container image runs. */
export const TPIPE_BIN = join(PACKAGE_ROOT, 'bin', 'run.js')

export type ProcessState = 'starting' | 'up' | 'restarting' | 'stopping' | 'stopped' | 'done' | 'failed'

export interface ProcessSpec {
  /** Unique name, e.g. mqreader-1; also the reader name of a reader. */
  name: string
  service: ServiceName
  port: number
  args: string[]
  /** On top of the supervisor's environment; an undefined value removes that variable for the child. */
  env: Record<string, string | undefined>
}

export interface ProcessEvents {
  /** A process that had been up exited unexpectedly (it is restarted after this). */
  onCrash?: (p: ManagedProcess, code: number | null, signal: NodeJS.Signals | null, lastLines: string) => void
  /** Called before a restart: may replace the spec (arguments) from the current topology. */
  refresh?: (p: ManagedProcess) => Promise<void>
  /** Called right after a restarted process was spawned. */
  onRestart?: (p: ManagedProcess) => void
}

const MAX_BACKOFF_MS = 15_000

/** The environment without the variables set to undefined (the spec's way of removing one). */
function childEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v
  return out
}

export class ManagedProcess {
  child: ChildProcess | undefined
  state: ProcessState = 'stopped'
  restarts = 0
  lastExit: { code: number | null; signal: NodeJS.Signals | null; at: string } | undefined
  readonly logFile: string
  private backoffMs = 500
  private restartTimer: NodeJS.Timeout | undefined
  private upSince = 0
  /** Whether it ever became ready: a process that never did is not restarted but reported as failed. */
  private everUp = false
  /** The port the child reported after binding (it is started with --port 0 the first time). */
  private listening: { resolve: (port: number) => void; reject: (err: Error) => void } | undefined

  constructor(
    public spec: ProcessSpec,
    logDir: string,
    private readonly events: ProcessEvents = {},
  ) {
    this.logFile = join(logDir, `${spec.name}.log`)
    mkdirSync(dirname(this.logFile), { recursive: true })
  }

  get url(): string {
    return `http://127.0.0.1:${this.spec.port}`
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  /**
   * Spawns the child. Resolves with the port it bound (reported over the IPC channel after listen), or
   * rejects with the root cause when it exits before that.
   */
  start(): Promise<number> {
    this.state = 'starting'
    const bound = new Promise<number>((resolve, reject) => (this.listening = { resolve, reject }))
    bound.catch(() => {}) // a restart nobody awaits must not become an unhandled rejection
    appendFileSync(this.logFile, `\n--- ${new Date().toISOString()} start ${this.spec.name}: tpipe serve ${this.spec.service} ${this.spec.args.join(' ')}\n`)
    // The child writes its log straight into the file (not through a pipe to us): its output costs the
    // supervisor nothing, and a child whose supervisor died can still log its own orderly shutdown.
    const fd = openSync(this.logFile, 'a')
    let child: ChildProcess
    try {
      child = spawn(process.execPath, [TPIPE_BIN, 'serve', this.spec.service, '--port', String(this.spec.port), '--host', '127.0.0.1', ...this.spec.args], {
        // NODE_ENV=production: under a test runner (NODE_ENV=test) oclif would look for TypeScript sources.
        env: childEnv({ ...process.env, NODE_ENV: 'production', TPIPE_SUPERVISOR_PID: String(process.pid), ...this.spec.env }),
        // Its own process group: the terminal's Ctrl-C (SIGINT to the foreground group) reaches only the
        // supervisor, which then stops the children in order. The IPC channel carries the bound port.
        detached: true,
        stdio: ['ignore', fd, fd, 'ipc'],
      })
    } finally {
      closeSync(fd)
    }
    this.child = child
    this.upSince = Date.now()
    child.on('message', (m: unknown) => {
      const msg = m as { tpipe?: string; port?: number }
      if (msg?.tpipe === 'listening' && typeof msg.port === 'number' && child === this.child) {
        this.spec.port = msg.port
        this.listening?.resolve(msg.port)
      }
    })
    child.once('exit', (code, signal) => this.onExit(child, code, signal))
    // A failed spawn (EAGAIN, ENOMEM) emits 'error' and maybe no 'exit': treat it as a crash, never
    // let it take the supervisor down.
    child.once('error', (err) => {
      this.note(`spawn failed: ${err.message}`)
      if (child.exitCode === null && child.signalCode === null) this.onExit(child, null, null)
    })
    return bound
  }

  private note(text: string): void {
    try {
      appendFileSync(this.logFile, `--- ${new Date().toISOString()} ${text}\n`)
    } catch {
      /* the log is best effort */
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return
    this.lastExit = { code, signal, at: new Date().toISOString() }
    this.note(`exit code=${code} signal=${signal}`)
    if (this.state === 'stopping' || this.state === 'stopped') {
      this.listening?.reject(new Error(`${this.spec.name} was stopped`))
      this.state = 'stopped'
      return
    }
    if (!this.everUp && this.state === 'starting') {
      // It never came up: restarting would only repeat the failure. The caller reports the cause.
      this.state = 'failed'
      this.listening?.reject(new Error(`${this.spec.name} exited (code ${code}${signal ? `, signal ${signal}` : ''}) while starting: ${this.rootCause()}`))
      return
    }
    // A streamer with --loops N finishes its work and exits 0: that is done, not a crash.
    if (code === 0 && this.spec.service === 'streamer') {
      this.state = 'done'
      return
    }
    this.events.onCrash?.(this, code, signal, this.tail(15))
    // Back off exponentially, but a process that ran a while starts again from a short delay.
    if (Date.now() - this.upSince > 30_000) this.backoffMs = 500
    this.state = 'restarting'
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined
      void (async () => {
        await this.events.refresh?.(this).catch(() => {})
        if (this.state !== 'restarting') return
        this.restarts++
        void this.start()
        this.events.onRestart?.(this)
      })()
    }, this.backoffMs)
    this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2)
  }

  markUp(): void {
    if (this.state === 'starting') {
      this.state = 'up'
      this.everUp = true
    }
  }

  /**
   * The one line that says why the process failed: the last error the service logged (pino JSON,
   * level ≥ 50, with its err message), else the last line of its log.
   */
  rootCause(): string {
    const lines = this.tail(60).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('--- '))
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        const j = JSON.parse(lines[i]!) as { level?: number; msg?: string; err?: { message?: string } | string }
        if ((j.level ?? 0) < 50) continue
        const err = typeof j.err === 'string' ? j.err : j.err?.message
        return [j.msg, err].filter((x) => x && x !== 'undefined').join(': ') || lines[i]!
      } catch {
        /* not JSON: e.g. a stack trace printed by node */
      }
    }
    const plain = lines.filter((l) => !l.startsWith('{'))
    const errLine = [...plain].reverse().find((l) => /error/i.test(l))
    return (errLine ?? plain.at(-1) ?? lines.at(-1) ?? 'no output').trim()
  }

  /** The last lines of the process's log, for a crash report. */
  tail(lines: number): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
    } catch {
      return ''
    }
  }

  /** Sends a signal without stopping supervision (kill -9 in the chaos test: the supervisor restarts it). */
  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig)
  }

  /** Graceful stop: SIGTERM, then SIGKILL after timeoutMs. Resolves when the process has exited. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (this.restartTimer) {
      clearTimeout(this.restartTimer)
      this.restartTimer = undefined
    }
    const child = this.child
    const alive = child && child.exitCode === null && child.signalCode === null
    this.state = 'stopping'
    if (alive) {
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      await exited
      clearTimeout(timer)
    }
    this.state = 'stopped'
  }

}
