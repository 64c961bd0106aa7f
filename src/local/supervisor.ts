// The local supervisor behind `tpipe dev`: owns the topology (which service runs how many processes on
// which ports), starts them in order, restarts crashed ones, scales them, moves reader partitions live
// with the same planner as the Kubernetes controller, and shuts everything down in order.
// It talks to the services only through their public HTTP APIs, like an operator would.
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { join } from 'node:path'
import type { Pool } from '../db/pool.js'
import type { ServiceName } from '../config/types.js'
import { parsePrometheus } from '../metrics/text.js'
import { formatPartitions, parsePartitions } from '../partitions/ranges.js'
import { plan as planPartitions, rangeText, type Plan } from '../partitions/plan.js'
import type { AssignmentPut, AssignmentView } from '../protocol/assignment.js'
import type { OwnerStats } from '../protocol/stats.js'
import { ManagedProcess, type ProcessSpec } from './process.js'

export interface Topology {
  streamers: number
  writers: number
  readers: number
  collectors: number
  apigws: number
}

export interface SupervisorOptions extends Topology {
  databaseUrl: string
  home: string
  csv: string
  /** messages/s per streamer; 0 = unlimited. */
  rate: number
  /** Streamer passes over the CSV; 0 = forever. */
  loops: number
  apigwPort: number
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
  log?: (msg: string) => void
  pool?: Pool
}

export const SCALABLE: readonly ServiceName[] = ['streamer', 'mqwriter', 'mqreader', 'collector', 'apigw']

export interface ReaderStatus {
  name: string
  url: string
  partitions: string
  partitionCount: number
  generation: number | null
  draining: string
  ready: number | null
  leased: number | null
  bufferUtilization: number | null
}

/** One scraper's targets (its /v1/targets), for the status views. */
export interface ScraperStatus {
  name: string
  targets: number
  up: number
  down: number
  /** The first failing target and why, when any. */
  lastError: string | null
  samples: number
}

export interface ProcessStatus {
  name: string
  service: ServiceName
  state: string
  pid: number | undefined
  port: number
  restarts: number
}

export interface DevStatus {
  processes: ProcessStatus[]
  counts: Record<string, number>
  publishesPerSecond: number
  persistedPerSecond: number
  published: number
  persisted: number
  queueDepth: number | null
  leased: number
  deadLetters: number | null
  readers: ReaderStatus[]
  scrapers: ScraperStatus[]
  generation: number
  apigwUrl: string
  swaggerUrl: string
  restarts: number
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address()
      const p = typeof a === 'object' && a ? a.port : 0
      srv.close(() => resolve(p))
    })
  })
}

async function getJson<T>(url: string, timeoutMs = 2000): Promise<T | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    if (!r.ok) return undefined
    return (await r.json()) as T
  } catch {
    return undefined
  }
}

async function getText(url: string, timeoutMs = 2000): Promise<string | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    return r.ok ? await r.text() : undefined
  } catch {
    return undefined
  }
}

export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

export class Supervisor {
  readonly processes = new Map<ServiceName, ManagedProcess[]>()
  private plan: Plan = {}
  private generation = 0
  private readonly logDir: string
  private readonly log: (msg: string) => void
  private lastRates: { at: number; published: number; persisted: number } | undefined
  private rates = { publishes: 0, persisted: 0 }
  /** Scale operations run one at a time (an owner queue), since each reads and changes the topology. */
  private queue: Promise<unknown> = Promise.resolve()
  private stopped = false
  /** Streamers split the rows by `--shard i/n`; n follows scaling. */
  private streamerCount: number

  constructor(private readonly opts: SupervisorOptions) {
    this.logDir = join(opts.home, 'dev', 'logs')
    this.tokens = devTokens(opts.env)
    this.log = opts.log ?? (() => {})
    this.streamerCount = opts.streamers
    for (const s of SCALABLE) this.processes.set(s, [])
    this.processes.set('scraper', [])
  }

  list(service: ServiceName): ManagedProcess[] {
    return this.processes.get(service) ?? []
  }

  all(): ManagedProcess[] {
    return [...this.processes.values()].flat()
  }

  get apigwUrl(): string {
    return `http://127.0.0.1:${this.opts.apigwPort}`
  }

  private readerNames(n: number): string[] {
    return Array.from({ length: n }, (_, i) => `mqreader-${i}`)
  }

  /**
   * The service tokens of this run (README › Security): generated unless the caller's env sets them,
   * handed to every child, so producers, collectors and the supervisor itself authenticate and nothing
   * else on the machine can publish, lease, ack or steer the readers.
   */
  readonly tokens: Record<'TPIPE_PUBLISH_TOKEN' | 'TPIPE_QUEUE_TOKEN' | 'TPIPE_CONTROL_TOKEN', string>

  private baseEnv(): Record<string, string> {
    return { DATABASE_URL: this.opts.databaseUrl, TPIPE_HOME: this.opts.home, TPIPE_LOG_LEVEL: 'info', ...this.tokens, ...this.opts.env }
  }

  private async spec(service: ServiceName, index: number, keepPort?: number): Promise<ProcessSpec> {
    const name = `${service}-${index}`
    const port = keepPort ?? (service === 'apigw' && index === 0 ? this.opts.apigwPort : await freePort())
    const extra = this.opts.extraArgs?.[service] ?? []
    let args: string[] = []
    switch (service) {
      case 'mqwriter':
        args = []
        break
      case 'mqreader': {
        const r = this.plan[name]
        args = ['--reader-name', name, '--partitions', r ? rangeText(r) : 'none']
        break
      }
      case 'collector':
        args = ['--readers', this.list('mqreader').map((p) => p.url).join(',')]
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
        if (this.opts.ackLogDir) args.push('--ack-log', join(this.opts.ackLogDir, `${name}.acks`))
        break
      }
      case 'apigw':
        args = []
        break
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
    return { name, service, port, args: [...args, ...extra], env: this.baseEnv() }
  }

  private managed(spec: ProcessSpec, index: number): ManagedProcess {
    return new ManagedProcess(spec, this.logDir, {
      onCrash: (proc, code, signal, lastLines) =>
        this.log(`${proc.spec.name} exited (code ${code}, signal ${signal}); restarting. Last lines of ${proc.logFile}:\n${lastLines}`),
      // A restarted process is started from the current topology (readers, writers and the plan may
      // have changed since it was first launched); a reader then gets the current generation again.
      refresh: async (proc) => {
        proc.spec = await this.spec(proc.spec.service, index, proc.spec.port)
      },
      onRestart: (proc) =>
        void this.awaitReady(proc)
          .then(async () => {
            if (proc.spec.service === 'mqreader' && this.generation > 0) {
              const r = this.plan[proc.spec.name]
              await this.putAssignment(proc, r ? rangeText(r) : '', this.generation)
            }
          })
          .catch((err) => this.log(`${proc.spec.name}: ${(err as Error).message}`)),
    })
  }

  private async launch(service: ServiceName, index: number): Promise<ManagedProcess> {
    const p = this.managed(await this.spec(service, index), index)
    this.list(service).push(p)
    p.start()
    try {
      await this.awaitReady(p)
    } catch (err) {
      // A process that cannot start is not left behind restarting forever.
      await p.stop(2000)
      const list = this.list(service)
      list.splice(list.indexOf(p), 1)
      throw err
    }
    return p
  }

  private async awaitReady(p: ManagedProcess, timeoutMs = 60_000): Promise<void> {
    await waitFor(
      async () => {
        if (p.state === 'done') return true
        if (p.child?.exitCode !== null && p.child?.exitCode !== undefined && p.state === 'starting') {
          throw new Error(`${p.spec.name} exited with code ${p.child.exitCode} while starting. Last lines of ${p.logFile}:\n${p.tail(20)}`)
        }
        // A reader without partitions is (rightly) not ready; alive is enough for it.
        const path = p.spec.service === 'mqreader' && !this.plan[p.spec.name] ? '/healthz' : '/readyz'
        return (await getText(`${p.url}${path}`, 1000)) !== undefined
      },
      timeoutMs,
      `${p.spec.name} to become ready (log: ${p.logFile})`,
    )
    p.markUp()
  }

  /** Starts the topology: writers, readers, collectors, apigw, then streamers (producers last). */
  async start(step: (title: string, fn: () => Promise<void>) => Promise<void> = async (_t, fn) => fn()): Promise<void> {
    const o = this.opts
    this.plan = planPartitions(this.readerNames(o.readers))
    await step(`mqwriter ×${o.writers}`, async () => {
      await Promise.all(Array.from({ length: o.writers }, (_, i) => this.launch('mqwriter', i)))
    })
    await step(`mqreader ×${o.readers} (${Object.entries(this.plan).map(([n, r]) => `${n}: ${rangeText(r)}`).join(', ')})`, async () => {
      await Promise.all(Array.from({ length: o.readers }, (_, i) => this.launch('mqreader', i)))
    })
    await step(`collector ×${o.collectors}`, async () => {
      await Promise.all(Array.from({ length: o.collectors }, (_, i) => this.launch('collector', i)))
    })
    await step(`apigw on ${this.apigwUrl}`, async () => {
      await Promise.all(Array.from({ length: o.apigws }, (_, i) => this.launch('apigw', i)))
    })
    await step(`streamer ×${o.streamers}${o.rate > 0 ? ` at ${o.rate} msg/s each` : ' at full speed'}`, async () => {
      await Promise.all(Array.from({ length: o.streamers }, (_, i) => this.launch('streamer', i)))
    })
    if (o.scrapers) {
      await step(`scraper ×${o.scrapers} on ${o.scrapeTargets?.length ?? 0} dcgm-exporter targets`, async () => {
        await Promise.all(Array.from({ length: o.scrapers ?? 0 }, (_, i) => this.launch('scraper', i)))
      })
    }
  }

  /** Runs topology changes one at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn)
    this.queue = next.catch(() => {})
    return next
  }

  scale(service: ServiceName, n: number): Promise<{ service: ServiceName; from: number; to: number; moves: string[] }> {
    return this.serial(async () => {
      if (this.stopped) throw new Error('the pipeline is shutting down')
      if (!SCALABLE.includes(service)) throw new Error(`cannot scale ${service} locally; scalable: ${SCALABLE.join(', ')}`)
      if (!Number.isInteger(n) || n < 0 || n > 64) throw new Error('replicas must be an integer 0..64')
      if (service === 'mqreader' && n < 1) throw new Error('mqreader needs at least 1 replica: someone must own the partitions')
      const from = this.list(service).length
      if (service === 'mqreader') return { service, from, to: n, moves: await this.scaleReaders(n) }
      if (service === 'streamer') {
        // The shard count changes for every streamer: stop the extra ones, restart the rest with i/n.
        this.streamerCount = n
        const removed = this.list(service).splice(n)
        await Promise.all(removed.map((p) => p.stop()))
        await this.rollingRestart('streamer')
        await Promise.all(Array.from({ length: Math.max(0, n - from) }, (_, k) => this.launch(service, from + k)))
        return { service, from, to: n, moves: [] }
      }
      if (n > from) {
        await Promise.all(Array.from({ length: n - from }, (_, k) => this.launch(service, from + k)))
        if (service === 'mqwriter') await this.rollingRestart('streamer')
      } else {
        const removed = this.list(service).splice(n)
        // Producers learn the new writer list first, then the removed writers go (no refused publishes).
        if (service === 'mqwriter') await this.rollingRestart('streamer')
        await Promise.all(removed.map((p) => p.stop()))
      }
      return { service, from, to: n, moves: [] }
    })
  }

  /**
   * Replaces each process of a service with one built from the current topology. All at once: these
   * are stateless clients (collectors, streamers) whose graceful stop finishes their in-flight work.
   */
  private async rollingRestart(service: ServiceName): Promise<void> {
    const list = this.list(service)
    await Promise.all(
      list.map(async (old, i) => {
        if (old.state === 'done') return
        await old.stop()
        const p = this.managed(await this.spec(service, i, old.spec.port), i)
        p.restarts = old.restarts
        list[i] = p
        p.start()
        await this.awaitReady(p)
      }),
    )
  }

  /**
   * Live partition moves: start the new readers (owning nothing), tell collectors about them, hand
   * every reader its new range (a higher generation; each reader drains what it loses before releasing
   * the advisory locks, and takes what it gains as soon as the locks are free), wait until every
   * reader owns exactly its range, then stop the readers that are gone. Readers that keep their
   * partitions are never restarted.
   */
  private async scaleReaders(n: number): Promise<string[]> {
    const readers = this.list('mqreader')
    const from = readers.length
    const names = this.readerNames(n)
    const next = planPartitions(names, this.plan)
    const moves: string[] = []
    for (const [name, r] of Object.entries(next)) {
      const prev = this.plan[name]
      if (!prev || prev.start !== r.start || prev.end !== r.end) moves.push(`${name}: ${prev ? rangeText(prev) : '-'} → ${rangeText(r)}`)
    }
    for (const name of Object.keys(this.plan)) if (!next[name]) moves.push(`${name}: ${rangeText(this.plan[name]!)} → -`)

    const t0 = Date.now()
    const step = (m: string) => this.log(`scale mqreader ${from} → ${n}: ${m} (+${((Date.now() - t0) / 1000).toFixed(1)} s)`)
    if (n > from) {
      // new readers start with no partitions (they are not in the current plan yet)
      await Promise.all(Array.from({ length: n - from }, (_, k) => this.launch('mqreader', from + k)))
      step(`started ${n - from} reader(s)`)
      await this.rollingRestart('collector')
      step('collectors know every reader')
    }
    this.plan = next
    this.generation++
    const generation = this.generation
    const targets = this.list('mqreader').map((p) => ({ p, partitions: next[p.spec.name] ? rangeText(next[p.spec.name]!) : '' }))
    await Promise.all(targets.map(({ p, partitions }) => this.putAssignment(p, partitions, generation)))
    step(`generation ${generation} sent`)
    await waitFor(
      async () => {
        const views = await Promise.all(targets.map(({ p }) => getJson<AssignmentView>(`${p.url}/v1/assignment`)))
        return views.every((v, i) => {
          if (!v || v.generation !== generation) return false
          const want = formatPartitions(parsePartitions(targets[i]!.partitions))
          return formatPartitions(parsePartitions(v.owned ?? '')) === want && !v.draining && !v.waiting
        })
      },
      120_000,
      'readers to converge on the new partition plan',
      200,
    )
    step('every reader owns exactly its range')
    if (n < from) {
      const removed = readers.splice(n)
      await this.rollingRestart('collector')
      await Promise.all(removed.map((p) => p.stop()))
      step(`stopped ${from - n} reader(s)`)
    }
    return moves
  }

  private async putAssignment(p: ManagedProcess, partitions: string, generation: number): Promise<void> {
    let refused: string | undefined
    await waitFor(
      async () => {
        try {
          const r = await fetch(`${p.url}/v1/assignment`, {
            method: 'PUT',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${this.tokens.TPIPE_CONTROL_TOKEN}` },
            body: JSON.stringify({ partitions, generation } satisfies AssignmentPut),
            signal: AbortSignal.timeout(5000),
          })
          // A 409 is NOT accepted: the reader holds a newer generation than ours, so it does not own
          // what we planned. Say so instead of believing the plan is in force.
          if (r.status === 409) refused = await r.text()
          else await r.body?.cancel()
          return r.ok || r.status === 409
        } catch {
          return false // restarting: retry
        }
      },
      60_000,
      `${p.spec.name} to accept its assignment`,
      200,
    )
    if (refused !== undefined) throw new Error(`${p.spec.name} refused assignment generation ${generation}: ${refused.slice(0, 300)}`)
  }

  /** Restarts (kill -9 / SIGTERM) are the supervisor's job; this only signals, for the chaos test. */
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
    await Promise.all(
      this.list('mqreader').map((p) => this.putAssignment(p, this.plan[p.spec.name] ? rangeText(this.plan[p.spec.name]!) : '', this.generation)),
    )
  }

  async status(): Promise<DevStatus> {
    const processes: ProcessStatus[] = this.all().map((p) => ({
      name: p.spec.name,
      service: p.spec.service,
      state: p.state,
      pid: p.pid,
      port: p.spec.port,
      restarts: p.restarts,
    }))
    const counts: Record<string, number> = {}
    for (const s of SCALABLE) counts[s] = this.list(s).length
    const sumMetric = async (service: ServiceName, metric: string): Promise<number> => {
      const texts = await Promise.all(this.list(service).map((p) => getText(`${p.url}/metrics`)))
      let sum = 0
      for (const t of texts) if (t) sum += parsePrometheus(t).get(metric) ?? 0
      return sum
    }
    const [published, persisted] = await Promise.all([
      sumMetric('mqwriter', 'mqwriter_messages_published_total'),
      sumMetric('collector', 'collector_rows_persisted_total'),
    ])
    const now = Date.now()
    if (this.lastRates && now - this.lastRates.at >= 500) {
      const dt = (now - this.lastRates.at) / 1000
      this.rates = {
        publishes: Math.max(0, (published - this.lastRates.published) / dt),
        persisted: Math.max(0, (persisted - this.lastRates.persisted) / dt),
      }
    }
    if (!this.lastRates || now - this.lastRates.at >= 500) this.lastRates = { at: now, published, persisted }

    const readers: ReaderStatus[] = await Promise.all(
      this.list('mqreader').map(async (p) => {
        const s = await getJson<OwnerStats>(`${p.url}/v1/stats`)
        const a = await getJson<AssignmentView>(`${p.url}/v1/assignment`)
        const owned = a?.owned ?? ''
        return {
          name: p.spec.name,
          url: p.url,
          partitions: owned,
          partitionCount: parsePartitions(owned).length,
          generation: a?.generation ?? null,
          draining: a?.draining ?? '',
          ready: s?.ready ?? null,
          leased: s?.leased ?? null,
          bufferUtilization: s?.buffer_utilization ?? null,
        }
      }),
    )
    const scrapers: ScraperStatus[] = await Promise.all(
      this.list('scraper').map(async (p) => {
        const v = await getJson<{ targets: { up: boolean | null; url: string; last_error: string | null; last_samples: number }[] }>(`${p.url}/v1/targets`)
        const t = v?.targets ?? []
        const bad = t.find((x) => x.up === false)
        return {
          name: p.spec.name,
          targets: t.length,
          up: t.filter((x) => x.up === true).length,
          down: t.filter((x) => x.up === false).length,
          lastError: bad ? `${bad.url}: ${bad.last_error}` : null,
          samples: t.reduce((a, x) => a + x.last_samples, 0),
        }
      }),
    )
    let queueDepth: number | null = null
    let deadLetters: number | null = null
    if (this.opts.pool) {
      try {
        // Counted up to a cap, so a very deep queue cannot make the status itself slow.
        const r = await this.opts.pool.query<{ q: string; d: string | null }>(
          `SELECT (SELECT count(*) FROM (SELECT 1 FROM queue_messages LIMIT 1000000) s) AS q,
                  (SELECT count(*) FROM dead_letters) AS d`,
        )
        queueDepth = Number(r.rows[0]!.q)
        deadLetters = r.rows[0]!.d === null ? null : Number(r.rows[0]!.d)
      } catch {
        /* database restarting */
      }
    }
    return {
      processes,
      counts,
      publishesPerSecond: this.rates.publishes,
      persistedPerSecond: this.rates.persisted,
      published,
      persisted,
      queueDepth,
      leased: readers.reduce((a, r) => a + (r.leased ?? 0), 0),
      deadLetters,
      readers,
      scrapers,
      generation: this.generation,
      apigwUrl: this.apigwUrl,
      swaggerUrl: `${this.apigwUrl}/swagger`,
      restarts: processes.reduce((a, p) => a + p.restarts, 0),
    }
  }

  /** Ordered shutdown: producers first so nothing new enters, then the queue drains outward. */
  async stop(timeoutMs = 20_000): Promise<void> {
    this.stopped = true
    await this.queue.catch(() => {})
    for (const s of ['scraper', 'streamer', 'mqwriter', 'mqreader', 'collector', 'apigw'] as const) {
      await Promise.all(this.list(s).map((p) => p.stop(timeoutMs)))
    }
  }
}

/** Random service tokens for one `tpipe dev` run; any already set in env are kept. */
export function devTokens(env: Record<string, string> | undefined): Record<'TPIPE_PUBLISH_TOKEN' | 'TPIPE_QUEUE_TOKEN' | 'TPIPE_CONTROL_TOKEN', string> {
  const make = () => randomBytes(24).toString('base64url')
  return {
    TPIPE_PUBLISH_TOKEN: env?.TPIPE_PUBLISH_TOKEN ?? make(),
    TPIPE_QUEUE_TOKEN: env?.TPIPE_QUEUE_TOKEN ?? make(),
    TPIPE_CONTROL_TOKEN: env?.TPIPE_CONTROL_TOKEN ?? make(),
  }
}
