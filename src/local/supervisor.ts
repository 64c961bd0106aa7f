// The local supervisor behind `tpipe dev`: owns the topology (which service runs how many processes),
// starts them in order, restarts crashed ones, scales them, moves reader partitions live (moves.ts),
// and shuts everything down in order with the queue drained first. Status lives in status.ts, SQL in
// sql.ts. It talks to the services only through their public HTTP APIs, like an operator would.
// Children bind port 0 and report the port they got (process.ts): no port is picked before it is bound.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { ServiceName } from '../config/types.js'
import type { Pool } from '../db/pool.js'
import { SERVICE_GROUPS, type DbService } from '../db/roles.js'
import { plan as planPartitions, rangeText, type Plan } from '../partitions/plan.js'
import { MAX_GENERATION } from '../protocol/assignment.js'
import { waitFor } from '../util/async.js'
import { getText } from './http.js'
import { collectorsFollow, converge, describePlanChange, putAssignment, StaleAssignmentError, writeReadersFile } from './moves.js'
import { ManagedProcess, type ProcessSpec } from './process.js'
import { queueCounts } from './sql.js'
import { SCALABLE, StatusCollector, type DevStatus } from './status.js'
import { tokenEnv, type ServiceTokens } from './tokens.js'

export { SCALABLE, type DevStatus, type ProcessStatus, type ReaderStatus, type ScraperStatus } from './status.js'

export interface Topology {
  streamers: number
  writers: number
  readers: number
  collectors: number
  apigws: number
}

export interface SupervisorOptions extends Topology {
  /** The owner's URL: the supervisor's own queries; a service's URL when it has none of its own below. */
  databaseUrl: string
  /** Each database service's least-privilege URL (its own LOGIN user, src/db/roles.ts). */
  serviceDatabaseUrls?: Partial<Record<DbService, string>>
  home: string
  csv: string
  /** messages/s per streamer; 0 = unlimited. */
  rate: number
  /** Streamer passes over the CSV; 0 = forever. */
  loops: number
  /** Port of the first apigw (0: any free port). */
  apigwPort: number
  /** Streamers keep the file's timestamps instead of stamping rows with the time they are sent. */
  keepTimestamps?: boolean
  /** Extra env for every child (log level, tunables). */
  env?: Record<string, string>
  /** Per-service extra args. */
  extraArgs?: Partial<Record<ServiceName, string[]>>
  /** `tpipe dev --source scrape`: this many scrapers (static shards i/n) scrape these dcgm-exporter URLs. */
  scrapers?: number
  scrapeTargets?: readonly string[]
  scrapeIntervalMs?: number
  /** When set, streamer i appends acknowledged msg_uuids to <ackLogDir>/streamer-i.acks. */
  ackLogDir?: string
  /**
   * Service tokens (tokens.ts): each child gets exactly the ones it needs (and no other token from
   * this process's environment); the supervisor sends the control token with every assignment.
   * `tpipe dev` always passes them. Unset: the children inherit whatever the environment says.
   */
  tokens?: ServiceTokens
  log?: (msg: string) => void
  pool?: Pool
}

export interface ScaleResult {
  service: ServiceName
  from: number
  to: number
  moves: string[]
  /** URLs of the processes of that service after the change (e.g. a second apigw's address). */
  urls: string[]
}

/** Stop order: producers first so nothing new enters, then the queue drains outward. */
const STOP_ORDER = ['scraper', 'streamer', 'mqwriter', 'mqreader', 'collector', 'apigw'] as const

export class Supervisor {
  readonly processes = new Map<ServiceName, ManagedProcess[]>()
  readonly logDir: string
  private plan: Plan = {}
  private gen = 0
  private readonly log: (msg: string) => void
  private readonly statusCollector: StatusCollector
  /** Scale operations run one at a time (an owner queue), since each reads and changes the topology. */
  private queue: Promise<unknown> = Promise.resolve()
  private stopped = false
  /** Streamers split the rows by `--shard i/n`; n follows scaling. */
  private streamerCount: number
  private readonly readersFile: string

  constructor(private readonly opts: SupervisorOptions) {
    this.logDir = join(opts.home, 'dev', 'logs')
    this.readersFile = join(opts.home, 'dev', 'readers.txt')
    this.log = opts.log ?? (() => {})
    this.streamerCount = opts.streamers
    for (const s of SCALABLE) this.processes.set(s, [])
    this.processes.set('scraper', [])
    this.statusCollector = new StatusCollector(this)
  }

  get pool(): Pool | undefined {
    return this.opts.pool
  }

  get generation(): number {
    return this.gen
  }

  list(service: ServiceName): ManagedProcess[] {
    return this.processes.get(service) ?? []
  }

  all(): ManagedProcess[] {
    return [...this.processes.values()].flat()
  }

  /** The first apigw's URL (known once it has bound its port). */
  get apigwUrl(): string {
    const first = this.list('apigw')[0]
    return first ? first.url : `http://127.0.0.1:${this.opts.apigwPort}`
  }

  private readerNames(n: number): string[] {
    return Array.from({ length: n }, (_, i) => `mqreader-${i}`)
  }

  private baseEnv(service: ServiceName): Record<string, string | undefined> {
    const env = { DATABASE_URL: this.opts.databaseUrl, TPIPE_HOME: this.opts.home, TPIPE_LOG_LEVEL: 'info', ...this.opts.env }
    return this.opts.tokens ? { ...env, ...tokenEnv(service, this.opts.tokens) } : env
  }

  /**
   * The database URL a service gets: its own role's when it has one, the owner's otherwise; none for the
   * services that never connect (streamer, scraper): they must not hold the owner's password. Both names
   * are set, so an inherited TPIPE_DATABASE_URL cannot win over the service's own.
   */
  private databaseEnv(service: ServiceName): Record<string, string> {
    const own = service in SERVICE_GROUPS ? (this.opts.serviceDatabaseUrls?.[service as DbService] ?? this.opts.databaseUrl) : ''
    return { DATABASE_URL: own, TPIPE_DATABASE_URL: own }
  }

  private controlHeaders(): Record<string, string> {
    const token = this.opts.tokens?.TPIPE_CONTROL_TOKEN ?? this.opts.env?.TPIPE_CONTROL_TOKEN ?? process.env.TPIPE_CONTROL_TOKEN
    return token ? { authorization: `Bearer ${token}` } : {}
  }

  private rangeOf(p: ManagedProcess): string {
    const r = this.plan[p.spec.name]
    return r ? rangeText(r) : ''
  }

  /**
   * Sends these readers their range of the plan at the current generation. A 409 is not an acceptance:
   * the reader holds a newer generation. If that generation is one this supervisor sent (a restart's
   * re-send overtaken by a scale), ours is in force and nothing is wrong. If it is newer than any sent
   * here, something else steered the reader: the plan goes out again to every reader above that
   * generation (at most twice), so what runs is what this supervisor plans and shows — or it fails
   * loudly, never silently.
   */
  private async assign(readers: readonly ManagedProcess[]): Promise<void> {
    let targets = readers
    for (let attempt = 1; ; attempt++) {
      const sent = this.gen
      const results = await Promise.allSettled(targets.map((p) => putAssignment(p, this.rangeOf(p), sent, this.controlHeaders())))
      let foreign: StaleAssignmentError | undefined
      for (const r of results) {
        if (r.status === 'fulfilled') continue
        const err = r.reason as unknown
        if (!(err instanceof StaleAssignmentError) || err.inForce === undefined) throw err
        if (err.inForce > this.gen && (!foreign || err.inForce > foreign.inForce!)) foreign = err
      }
      if (!foreign) return
      const next = foreign.inForce! + 1
      if (attempt >= 3 || next > MAX_GENERATION) {
        throw new Error(`${foreign.message}; this supervisor never sent that generation and could not take the reader back — restart it (tpipe dev restarts it when it exits)`)
      }
      this.log(`${foreign.reader} holds generation ${foreign.inForce}, which this supervisor never sent: re-sending the plan to every reader as generation ${next}`)
      this.gen = next
      targets = this.list('mqreader')
    }
  }

  private spec(service: ServiceName, index: number, keepPort?: number): ProcessSpec {
    const name = `${service}-${index}`
    const port = keepPort ?? (service === 'apigw' && index === 0 ? this.opts.apigwPort : 0)
    const extra = this.opts.extraArgs?.[service] ?? []
    const env = { ...this.baseEnv(service), ...this.databaseEnv(service) }
    let args: string[] = []
    switch (service) {
      case 'mqwriter':
      case 'apigw':
        break
      case 'mqreader': {
        const r = this.plan[name]
        args = ['--reader-name', name, '--partitions', r ? rangeText(r) : 'none']
        break
      }
      case 'collector':
        // The reader set comes from a file the supervisor rewrites on every reader change, re-read
        // twice a second: scaling readers never restarts a collector.
        args = ['--readers-file', this.readersFile]
        env.TPIPE_COLLECTOR_RESOLVE_INTERVAL_MS ??= '500'
        break
      case 'streamer': {
        args = [
          '--csv',
          this.opts.csv,
          '--mqwriter',
          this.list('mqwriter').map((p) => p.url).join(','),
          '--shard',
          `${index}/${Math.max(this.streamerCount, index + 1)}`,
          '--loops',
          String(this.opts.loops),
          '--write-back',
          'false',
        ]
        if (this.opts.rate > 0) args.push('--rate', String(this.opts.rate))
        if (this.opts.keepTimestamps) args.push('--keep-timestamps', 'true')
        if (this.opts.ackLogDir) args.push('--ack-log', join(this.opts.ackLogDir, `${name}.acks`))
        break
      }
      case 'scraper':
        args = [
          '--scrape-targets',
          (this.opts.scrapeTargets ?? []).join(','),
          '--mqwriter',
          this.list('mqwriter').map((p) => p.url).join(','),
          '--scrape-shard',
          `${index}/${Math.max(this.opts.scrapers ?? 1, index + 1)}`,
          '--scrape-interval-ms',
          String(this.opts.scrapeIntervalMs ?? 15_000),
          '--scrape-timeout-ms',
          String(Math.min(10_000, Math.floor((this.opts.scrapeIntervalMs ?? 15_000) * 0.8))),
        ]
        break
      default:
        throw new Error(`tpipe dev does not run ${service}`)
    }
    return { name, service, port, args: [...args, ...extra], env }
  }

  private managed(spec: ProcessSpec, index: number): ManagedProcess {
    return new ManagedProcess(spec, this.logDir, {
      onCrash: (proc, code, signal) =>
        this.log(`${proc.spec.name} exited (code ${code}${signal ? `, signal ${signal}` : ''}): ${proc.rootCause()} — restarting (log: ${proc.logFile})`),
      // A restarted process is started from the current topology (writers and the plan may have
      // changed since it was first launched) on the port it had; a reader gets the current generation.
      refresh: async (proc) => {
        proc.spec = this.spec(proc.spec.service, index, proc.spec.port)
      },
      onRestart: (proc) =>
        void this.awaitReady(proc)
          .then(async () => {
            if (proc.spec.service === 'mqreader' && this.gen > 0) await this.assign([proc])
          })
          .catch((err) => this.log(`${proc.spec.name}: ${(err as Error).message}`)),
    })
  }

  private async launch(service: ServiceName, index: number): Promise<ManagedProcess> {
    const p = this.managed(this.spec(service, index), index)
    this.list(service).push(p)
    try {
      await p.start() // rejects with the root cause when it exits before binding its port
      await this.awaitReady(p)
    } catch (err) {
      // A process that cannot start is not left behind restarting forever.
      await p.stop(2000)
      const list = this.list(service)
      if (list.includes(p)) list.splice(list.indexOf(p), 1)
      throw err
    }
    return p
  }

  private async awaitReady(p: ManagedProcess, timeoutMs = 60_000): Promise<void> {
    await waitFor(
      async () => {
        if (p.state === 'done') return true
        if (p.state === 'failed') throw new Error(`${p.spec.name} exited while starting: ${p.rootCause()} (log: ${p.logFile})`)
        if (p.state !== 'starting' || !p.spec.port) return false
        // A reader without partitions is (rightly) not ready; alive is enough for it.
        const path = p.spec.service === 'mqreader' && !this.plan[p.spec.name] ? '/healthz' : '/readyz'
        return (await getText(`${p.url}${path}`, 1000)) !== undefined
      },
      { timeoutMs, what: `${p.spec.name} to become ready (log: ${p.logFile})`, intervalMs: 100, failFast: true },
    )
    p.markUp()
  }

  private publishReaders(): string[] {
    const urls = this.list('mqreader').map((p) => p.url)
    mkdirSync(join(this.opts.home, 'dev'), { recursive: true })
    writeReadersFile(this.readersFile, urls)
    return urls
  }

  /** Starts the topology: writers, readers, collectors, apigw, then streamers (producers last). */
  async start(step: (title: string, fn: () => Promise<void>) => Promise<void> = async (_t, fn) => fn()): Promise<void> {
    const o = this.opts
    this.plan = planPartitions(this.readerNames(o.readers))
    const n = (k: number) => Array.from({ length: k }, (_, i) => i)
    await step(`mqwriter ×${o.writers}`, async () => {
      await Promise.all(n(o.writers).map((i) => this.launch('mqwriter', i)))
    })
    await step(`mqreader ×${o.readers} (${Object.entries(this.plan).map(([name, r]) => `${name}: ${rangeText(r)}`).join(', ')})`, async () => {
      await Promise.all(n(o.readers).map((i) => this.launch('mqreader', i)))
      this.publishReaders()
    })
    await step(`collector ×${o.collectors}`, async () => {
      await Promise.all(n(o.collectors).map((i) => this.launch('collector', i)))
    })
    await step(`apigw ×${o.apigws}`, async () => {
      await Promise.all(n(o.apigws).map((i) => this.launch('apigw', i)))
    })
    await step(`streamer ×${o.streamers}${o.rate > 0 ? ` at ${o.rate} msg/s each` : ' at full speed'}`, async () => {
      await Promise.all(n(o.streamers).map((i) => this.launch('streamer', i)))
    })
    if (o.scrapers) {
      await step(`scraper ×${o.scrapers} on ${o.scrapeTargets?.length ?? 0} dcgm-exporter targets`, async () => {
        await Promise.all(n(o.scrapers ?? 0).map((i) => this.launch('scraper', i)))
      })
    }
  }

  /** Runs topology changes one at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn)
    this.queue = next.catch(() => {})
    return next
  }

  scale(service: ServiceName, n: number, progress: (msg: string) => void = () => {}): Promise<ScaleResult> {
    return this.serial(async () => {
      if (this.stopped) throw new Error('the pipeline is shutting down')
      if (!SCALABLE.includes(service)) throw new Error(`cannot scale ${service} locally; scalable: ${SCALABLE.join(', ')}`)
      const from = this.list(service).length
      const t0 = Date.now()
      const step = (m: string) => {
        const line = `${m} (+${((Date.now() - t0) / 1000).toFixed(1)} s)`
        this.log(`scale ${service} ${from} → ${n}: ${line}`)
        progress(line)
      }
      const result = (moves: string[] = []): ScaleResult => ({ service, from, to: n, moves, urls: this.list(service).map((p) => p.url) })
      if (service === 'mqreader') {
        const moves = await this.scaleReaders(n, step)
        return result(moves)
      }
      if (service === 'streamer') {
        // The shard count changes for every streamer: stop the extra ones, restart the rest with i/n.
        this.streamerCount = n
        const removed = this.list(service).splice(n)
        await Promise.all(removed.map((p) => p.stop()))
        await this.rollingRestart('streamer')
        await Promise.all(Array.from({ length: Math.max(0, n - from) }, (_, k) => this.launch(service, from + k)))
        step(`${n} streamer(s) sharding the CSV ${n} ways`)
        return result()
      }
      if (n > from) {
        step(`starting ${n - from}`)
        await Promise.all(Array.from({ length: n - from }, (_, k) => this.launch(service, from + k)))
        step(`started ${n - from}: ${this.list(service).slice(from).map((p) => p.url).join(', ')}`)
        if (service === 'mqwriter') {
          await this.rollingRestart('streamer')
          step('streamers publish to every writer')
        }
      } else if (n < from) {
        const removed = this.list(service).splice(n)
        // Producers learn the new writer list first, then the removed writers go (no refused publishes).
        if (service === 'mqwriter') await this.rollingRestart('streamer')
        await Promise.all(removed.map((p) => p.stop()))
        step(`stopped ${from - n}`)
      }
      return result()
    })
  }

  /**
   * Replaces each process of a service with one built from the current topology. All at once: these
   * are stateless clients (streamers) whose graceful stop finishes their in-flight work.
   */
  private async rollingRestart(service: ServiceName): Promise<void> {
    const list = this.list(service)
    await Promise.all(
      list.map(async (old, i) => {
        if (old.state === 'done') return
        await old.stop()
        const p = this.managed(this.spec(service, i, old.spec.port), i)
        p.restarts = old.restarts
        list[i] = p
        await p.start()
        await this.awaitReady(p)
      }),
    )
  }

  /**
   * Live partition moves: start the new readers (owning nothing) and let the collectors pick them up
   * from the readers file, hand every reader its new range (a higher generation; each reader drains
   * what it loses before releasing the advisory locks, and takes what it gains as soon as the locks
   * are free), wait until every reader owns exactly its range, then take the readers that are gone
   * out of the collectors' set and stop them. No collector and no kept reader is restarted.
   */
  private async scaleReaders(n: number, step: (m: string) => void): Promise<string[]> {
    if (n < 1) throw new Error('mqreader needs at least 1 replica: someone must own the partitions')
    const readers = this.list('mqreader')
    const from = readers.length
    const next = planPartitions(this.readerNames(n), this.plan)
    const moves = describePlanChange(this.plan, next)
    if (n > from) {
      step(`starting ${n - from} reader(s)`)
      // new readers start with no partitions (they are not in the current plan yet)
      await Promise.all(Array.from({ length: n - from }, (_, k) => this.launch('mqreader', from + k)))
      step(`started ${n - from} reader(s)`)
      await collectorsFollow(this.list('collector'), this.publishReaders())
      step('collectors lease from every reader')
    }
    this.plan = next
    this.gen++
    await this.assign(this.list('mqreader'))
    const generation = this.gen // assign() goes above a generation something else set
    const targets = this.list('mqreader').map((p) => ({ p, partitions: this.rangeOf(p) }))
    step(`generation ${generation} sent: ${moves.join(', ') || 'no change'}`)
    await converge(targets, generation, step)
    step('every reader owns exactly its range')
    if (n < from) {
      const removed = readers.splice(n)
      await collectorsFollow(this.list('collector'), this.publishReaders())
      step('collectors left the removed reader(s)')
      await Promise.all(removed.map((p) => p.stop()))
      step(`stopped ${from - n} reader(s)`)
    }
    return moves
  }

  /** Sends a signal without stopping supervision (kill -9 in the chaos test: the supervisor restarts it). */
  signal(name: string, sig: NodeJS.Signals): ManagedProcess {
    const p = this.all().find((x) => x.spec.name === name)
    if (!p) throw new Error(`no process named ${name}`)
    p.signal(sig)
    return p
  }

  /**
   * After a restart a reader comes back with the partitions of its start-up arguments; re-send the
   * current assignment so a restarted reader follows the latest plan.
   */
  async reassertAssignments(): Promise<void> {
    await this.assign(this.list('mqreader'))
  }

  status(): Promise<DevStatus> {
    return this.statusCollector.collect()
  }

  /**
   * Ordered shutdown: streamers, then writers (they flush what they accepted), then — while readers
   * and collectors still run — the queue drains (bounded by drainMs), then readers (they drain their
   * leases), collectors, apigw. Reports each stage through `progress`.
   */
  async stop(
    timeoutMs = 20_000,
    opts: { drainMs?: number; progress?: (msg: string) => void; afterStage?: (service: ServiceName) => Promise<void> } = {},
  ): Promise<void> {
    this.stopped = true
    await this.queue.catch(() => {})
    const progress = opts.progress ?? (() => {})
    for (const s of STOP_ORDER) {
      const list = this.list(s)
      if (list.length > 0) {
        const t0 = Date.now()
        await Promise.all(list.map((p) => p.stop(timeoutMs)))
        progress(`${s} ×${list.length} stopped (${Date.now() - t0} ms)`)
      }
      await opts.afterStage?.(s)
      if (s === 'mqwriter') await this.drainQueue(opts.drainMs ?? 30_000, progress)
    }
  }

  /** Waits until the queue is empty while readers and collectors still run (bounded). */
  private async drainQueue(timeoutMs: number, progress: (msg: string) => void): Promise<void> {
    const pool = this.opts.pool
    if (!pool || this.list('mqreader').length === 0 || this.list('collector').length === 0) return
    const t0 = Date.now()
    let depth: number | undefined
    while (Date.now() - t0 < timeoutMs) {
      try {
        depth = (await queueCounts(pool)).queueDepth
      } catch {
        depth = undefined // database unreachable: keep trying until the deadline
      }
      if (depth === 0) {
        progress(`queue drained (${Date.now() - t0} ms)`)
        return
      }
      await new Promise((r) => setTimeout(r, 200))
    }
    progress(`queue not drained after ${timeoutMs} ms: ${depth ?? 'unknown'} message(s) stay queued for the next start`)
  }
}
