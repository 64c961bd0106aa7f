// What `tpipe dev`'s live view and `tpipe status` show: built from the services' public endpoints
// (/readyz, /metrics, /v1/stats, /v1/assignment) and the database (sql.ts). Counters survive restarts:
// a restarted service starts its counters at 0, so the last value seen before is kept as a base.
import type { ServiceName } from '../config/types.js'
import type { Pool } from '../db/pool.js'
import { parsePrometheus } from '../metrics/text.js'
import { parsePartitions } from '../partitions/ranges.js'
import type { AssignmentView } from '../protocol/assignment.js'
import type { OwnerStats } from '../protocol/stats.js'
import { summarizeTargets, type TargetsView } from '../protocol/targets.js'
import { getJson, getText } from './http.js'
import type { ManagedProcess } from './process.js'
import { queueCounts } from './sql.js'

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
  /** Process state: starting, up, restarting, stopping, stopped, done (a streamer that finished), failed. */
  state: string
  /** Its /readyz answered 200 (null: not asked, e.g. a finished streamer). */
  ready: boolean | null
  pid: number | undefined
  port: number
  url: string
  restarts: number
}

export interface StreamerSkip {
  streamer: string
  line: number
  reason: string
  at: string
}

export interface DevStatus {
  processes: ProcessStatus[]
  counts: Record<string, number>
  publishesPerSecond: number
  persistedPerSecond: number
  /** Since this `tpipe dev` started, kept across service restarts. */
  published: number
  persisted: number
  /** CSV rows the streamers skipped as bad, and the most recent one. */
  skipped: number
  lastSkip: StreamerSkip | null
  queueDepth: number | null
  leased: number
  deadLetters: number | null
  /** Whether the supervisor reaches the database; the error when it does not. */
  database: { reachable: boolean; error: string | null }
  readers: ReaderStatus[]
  scrapers: ScraperStatus[]
  generation: number
  apigwUrl: string
  /** Every apigw's URL (after `tpipe scale apigw 2` there are two). */
  apigwUrls: string[]
  swaggerUrl: string
  logs: string
  restarts: number
}

export interface StatusSource {
  all(): ManagedProcess[]
  list(service: ServiceName): ManagedProcess[]
  readonly generation: number
  readonly apigwUrl: string
  readonly logDir: string
  readonly pool: Pool | undefined
}


/** A counter summed over processes that may restart: keeps each process's last value across restarts. */
class DurableCounter {
  private readonly last = new Map<string, number>()
  private readonly base = new Map<string, number>()

  /** Feeds the current reading of one process (undefined: not reachable now) and returns its total. */
  observe(name: string, value: number | undefined): number {
    const prev = this.last.get(name)
    if (value === undefined) return (this.base.get(name) ?? 0) + (prev ?? 0)
    if (prev !== undefined && value < prev) this.base.set(name, (this.base.get(name) ?? 0) + prev)
    this.last.set(name, value)
    return (this.base.get(name) ?? 0) + value
  }

  /** Total over every process ever seen (removed ones too: what they did still counts). */
  total(): number {
    let t = 0
    for (const [name, v] of this.last) t += v + (this.base.get(name) ?? 0)
    return t
  }
}

export class StatusCollector {
  private lastRates: { at: number; published: number; persisted: number } | undefined
  private rates = { publishes: 0, persisted: 0 }
  private readonly published = new DurableCounter()
  private readonly persisted = new DurableCounter()
  private readonly skipped = new DurableCounter()
  private lastSkip: StreamerSkip | null = null

  constructor(private readonly src: StatusSource) {}

  private async metric(service: ServiceName, metric: string, counter: DurableCounter): Promise<number> {
    await Promise.all(
      this.src.list(service).map(async (p) => {
        if (p.state === 'done' || p.state === 'stopped') return counter.observe(p.spec.name, undefined)
        const t = await getText(`${p.url}/metrics`, 1000)
        return counter.observe(p.spec.name, t ? (parsePrometheus(t).get(metric) ?? 0) : undefined)
      }),
    )
    return counter.total()
  }

  private async streamers(): Promise<void> {
    await Promise.all(
      this.src.list('streamer').map(async (p) => {
        if (p.state === 'done' || p.state === 'stopped') return
        const s = await getJson<{ skipped: number; last_skip: { line: number; reason: string; at: string } | null }>(`${p.url}/v1/stats`, 1000)
        this.skipped.observe(p.spec.name, s?.skipped)
        if (s?.last_skip && (!this.lastSkip || s.last_skip.at > this.lastSkip.at)) this.lastSkip = { streamer: p.spec.name, ...s.last_skip }
      }),
    )
  }

  async collect(): Promise<DevStatus> {
    const all = this.src.all()
    const readiness = await Promise.all(
      all.map(async (p) => {
        if (p.state !== 'up' && p.state !== 'starting') return null
        // A reader without partitions is (rightly) not ready; alive is enough for it.
        return (await getText(`${p.url}/readyz`, 1000)) !== undefined
      }),
    )
    const processes: ProcessStatus[] = all.map((p, i) => ({
      name: p.spec.name,
      service: p.spec.service,
      state: p.state,
      ready: readiness[i] ?? null,
      pid: p.pid,
      port: p.spec.port,
      url: p.url,
      restarts: p.restarts,
    }))
    const counts: Record<string, number> = {}
    for (const s of SCALABLE) counts[s] = this.src.list(s).length
    const [published, persisted] = await Promise.all([
      this.metric('mqwriter', 'mqwriter_messages_published_total', this.published),
      this.metric('collector', 'collector_rows_persisted_total', this.persisted),
      this.streamers(),
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
      this.src.list('mqreader').map(async (p) => {
        const [s, a] = await Promise.all([
          getJson<OwnerStats>(`${p.url}/v1/stats`, 1000),
          getJson<AssignmentView>(`${p.url}/v1/assignment`, 1000),
        ])
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
      this.src.list('scraper').map(async (p) => {
        const v = await getJson<TargetsView>(`${p.url}/v1/targets`, 1000)
        const t = summarizeTargets(v?.targets ?? [])
        const bad = t.failing[0]
        return { name: p.spec.name, targets: t.targets, up: t.up, down: t.down, lastError: bad ? `${bad.url}: ${bad.last_error}` : null, samples: t.samples }
      }),
    )
    let queueDepth: number | null = null
    let deadLetters: number | null = null
    const database: DevStatus['database'] = { reachable: true, error: null }
    if (this.src.pool) {
      try {
        ;({ queueDepth, deadLetters } = await queueCounts(this.src.pool))
      } catch (err) {
        database.reachable = false
        database.error = (err as Error).message
      }
    }
    const apigwUrls = this.src.list('apigw').map((p) => p.url)
    return {
      processes,
      counts,
      publishesPerSecond: this.rates.publishes,
      persistedPerSecond: this.rates.persisted,
      published,
      persisted,
      skipped: this.skipped.total(),
      lastSkip: this.lastSkip,
      queueDepth,
      leased: readers.reduce((a, r) => a + (r.leased ?? 0), 0),
      deadLetters,
      database,
      readers,
      scrapers,
      generation: this.src.generation,
      apigwUrl: this.src.apigwUrl,
      apigwUrls,
      swaggerUrl: `${this.src.apigwUrl}/swagger`,
      logs: this.src.logDir,
      restarts: processes.reduce((a, p) => a + p.restarts, 0),
    }
  }
}
