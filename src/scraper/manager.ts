import type { Logger } from 'pino'
import { Agent, request } from 'undici'
import { Counter, Gauge, Histogram, type Registry } from '../metrics/index.js'
import { fnv1a32 } from '../partitions/hash.js'
import { toTelemetry, type TelemetryMessage } from '../scrape/dcgm.js'
import { isOpenMetricsContentType, parseExposition } from '../scrape/parse.js'
import type { TargetHealth } from '../protocol/targets.js'
import type { BatchPublisher } from './publish.js'

/** One dcgm-exporter endpoint. */
export interface Target {
  url: string
  /** host:port, added to every sample as the `instance` label (as Prometheus does). */
  instance: string
  /** The hostname used when the exporter has no Hostname label (the node name on Kubernetes). */
  fallbackHost: string
}

export interface ScrapeManagerOptions {
  intervalMs: number
  timeoutMs: number
  concurrency: number
  maxBodyBytes: number
  maxPending: number
  publishBatch: number
  prefix: string
  job: string
  publisher: BatchPublisher
  log: Logger
  registry: Registry
  now?: () => number
}

/** Targets built from static URLs: instance = host:port, fallback host = the URL's host. */
export function staticTarget(url: string): Target {
  const u = new URL(url)
  const port = u.port || (u.protocol === 'https:' ? '443' : '80')
  return { url: u.toString(), instance: `${u.hostname}:${port}`, fallbackHost: u.hostname }
}

class ScrapeError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message)
  }
}

const ACCEPT = 'application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.9,*/*;q=0.1'

interface TargetState {
  target: Target
  health: TargetHealth
  timer: NodeJS.Timeout | undefined
  running: boolean
}

/**
 * ScrapeManager owns the targets this replica scrapes and their health. Each target is scraped once per
 * interval at a fixed offset inside it (hash of its URL, so a fleet's scrapes spread over the interval
 * and two replicas scraping one target pick the same instants); the scheduled instant is the sample time
 * when the exporter gives none, which makes the message ids of two replicas — or of a retried publish —
 * equal. At most `concurrency` scrapes run at once; each is bounded by the timeout and the body size,
 * so a dead or slow target costs one slot for at most the timeout and never delays the others' schedule.
 * Publishing is decoupled from scraping: a scrape hands its samples to the publisher and the next scrape
 * does not wait for them; memory is bounded by maxPending samples (a scrape beyond it is dropped).
 */
export class ScrapeManager {
  private readonly states = new Map<string, TargetState>()
  private readonly agent: Agent
  private active = 0
  private readonly slotWaiters: (() => void)[] = []
  private pending = 0
  private stopped = false
  private readonly inflight = new Set<Promise<void>>()
  private readonly now: () => number
  private readonly m

  constructor(private readonly opts: ScrapeManagerOptions) {
    this.now = opts.now ?? Date.now
    this.agent = new Agent({ keepAliveTimeout: 60_000, connect: { timeout: opts.timeoutMs } })
    const registers = [opts.registry]
    this.m = {
      up: new Gauge({ name: 'scraper_target_up', help: '1 when the last scrape of the target succeeded, else 0 (like Prometheus up).', labelNames: ['target'] as const, registers }),
      duration: new Gauge({
        name: 'scraper_target_scrape_duration_seconds',
        help: 'Duration of the last scrape of the target (like Prometheus scrape_duration_seconds).',
        labelNames: ['target'] as const,
        registers,
      }),
      samples: new Gauge({
        name: 'scraper_target_scrape_samples',
        help: 'DCGM samples the last scrape of the target turned into telemetry.',
        labelNames: ['target'] as const,
        registers,
      }),
      errors: new Counter({
        name: 'scraper_target_scrape_errors_total',
        help: 'Failed scrapes by target and reason (timeout, connection, http, too_large, parse, backlog).',
        labelNames: ['target', 'reason'] as const,
        registers,
      }),
      scrapes: new Counter({ name: 'scraper_scrapes_total', help: 'Scrapes by result (ok, failed, missed).', labelNames: ['result'] as const, registers }),
      lag: new Histogram({
        name: 'scraper_scrape_lag_seconds',
        help: 'Start of a scrape minus its scheduled instant (waiting for a concurrency slot or a late timer).',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers,
      }),
      sampleOutcomes: new Counter({
        name: 'scraper_samples_total',
        help: 'Samples by outcome: published (committed by mqwriter), not_dcgm, non_finite, unmapped (no GPU uuid/index), parse_error (lines), rejected, abandoned, backlog.',
        labelNames: ['outcome'] as const,
        registers,
      }),
    }
    const states = this.states
    const pending = () => this.pending
    new Gauge({
      name: 'scraper_targets',
      help: 'Targets this replica scrapes.',
      registers,
      collect() {
        this.set(states.size)
      },
    })
    new Gauge({
      name: 'scraper_pending_samples',
      help: 'Samples scraped and not yet answered by mqwriter.',
      registers,
      collect() {
        this.set(pending())
      },
    })
  }

  get pendingSamples(): number {
    return this.pending
  }

  /** Replaces the target set: new targets are scheduled, gone ones stop (a running scrape finishes). */
  setTargets(targets: readonly Target[]): { added: string[]; removed: string[] } {
    const next = new Map(targets.map((t) => [t.url, t]))
    const added: string[] = []
    const removed: string[] = []
    for (const [url, s] of this.states) {
      if (next.has(url)) continue
      clearTimeout(s.timer)
      this.states.delete(url)
      for (const g of [this.m.up, this.m.duration, this.m.samples]) g.remove({ target: url })
      removed.push(url)
    }
    for (const t of next.values()) {
      if (this.states.has(t.url)) continue
      const s: TargetState = {
        target: t,
        health: { url: t.url, instance: t.instance, up: null, last_scrape: null, last_duration_seconds: null, last_samples: 0, last_error: null, scrapes: 0, errors: 0 },
        timer: undefined,
        running: false,
      }
      this.states.set(t.url, s)
      added.push(t.url)
      if (!this.stopped) this.schedule(s)
    }
    return { added, removed }
  }

  health(): TargetHealth[] {
    return [...this.states.values()].map((s) => ({ ...s.health })).sort((a, b) => a.url.localeCompare(b.url))
  }

  /** The next instant of the target's slot after `after`: k·interval + offset. */
  nextSlot(url: string, after: number): number {
    const { intervalMs } = this.opts
    const offset = fnv1a32(url) % intervalMs
    return Math.floor((after - offset) / intervalMs) * intervalMs + offset + intervalMs
  }

  /**
   * Arms the target's next slot after `after` (the slot that just fired; now, for a new target). From the
   * fired slot, not from the clock: a timer may fire a millisecond before Date.now() reaches its slot
   * (timers run on the monotonic clock), and the slot after "now" was then the same slot again — it fired
   * twice, and the second found the first running and counted a scrape missed (~5% of slots in the
   * 500-node bench). A clock that jumped ahead is caught up to (no burst of past slots).
   */
  private schedule(s: TargetState, after = this.now()): void {
    const at = this.nextSlot(s.target.url, Math.max(after, this.now() - this.opts.intervalMs))
    s.timer = setTimeout(() => {
      s.timer = undefined
      if (this.stopped || this.states.get(s.target.url) !== s) return
      this.schedule(s, at)
      if (s.running) {
        // The previous scrape of this target is still running (it is bounded by the timeout).
        this.m.scrapes.inc({ result: 'missed' })
        return
      }
      const p = this.scrape(s, at)
      this.inflight.add(p)
      void p.finally(() => this.inflight.delete(p))
    }, Math.max(0, at - this.now()))
    s.timer.unref?.()
  }

  private async slot(): Promise<void> {
    while (this.active >= this.opts.concurrency) await new Promise<void>((r) => this.slotWaiters.push(r))
    this.active++
  }

  private release(): void {
    this.active--
    this.slotWaiters.shift()?.()
  }

  /** One scrape of one target, scheduled for `at` (ms). Never throws. */
  async scrape(s: TargetState, at: number): Promise<void> {
    s.running = true
    const url = s.target.url
    try {
      await this.slot()
      const started = this.now()
      this.m.lag.observe(Math.max(0, started - at) / 1000)
      if (started - at > this.opts.intervalMs) {
        this.m.scrapes.inc({ result: 'missed' })
        this.release()
        return
      }
      let messages: TelemetryMessage[]
      try {
        messages = await this.fetchAndMap(s.target, at)
      } catch (err) {
        const reason = err instanceof ScrapeError ? err.reason : 'connection'
        this.fail(s, started, reason, (err as Error).message)
        return
      } finally {
        this.release()
      }
      const seconds = (this.now() - started) / 1000
      s.health = { ...s.health, up: true, last_scrape: new Date(started).toISOString(), last_duration_seconds: seconds, last_samples: messages.length, last_error: null, scrapes: s.health.scrapes + 1 }
      this.m.up.set({ target: url }, 1)
      this.m.duration.set({ target: url }, seconds)
      this.m.samples.set({ target: url }, messages.length)
      this.m.scrapes.inc({ result: 'ok' })
      s.running = false
      // The next scrape of this target does not wait for this one's publish (memory is bounded by maxPending).
      await this.publish(s, messages, at)
    } finally {
      s.running = false
    }
  }

  private fail(s: TargetState, started: number, reason: string, message: string): void {
    const seconds = (this.now() - started) / 1000
    s.health = { ...s.health, up: false, last_scrape: new Date(started).toISOString(), last_duration_seconds: seconds, last_samples: 0, last_error: `${reason}: ${message}`, scrapes: s.health.scrapes + 1, errors: s.health.errors + 1 }
    this.m.up.set({ target: s.target.url }, 0)
    this.m.duration.set({ target: s.target.url }, seconds)
    this.m.samples.set({ target: s.target.url }, 0)
    this.m.errors.inc({ target: s.target.url, reason })
    this.m.scrapes.inc({ result: 'failed' })
  }

  private async fetchAndMap(t: Target, at: number): Promise<TelemetryMessage[]> {
    const signal = AbortSignal.timeout(this.opts.timeoutMs)
    let text: string
    let contentType: string | undefined
    try {
      const res = await request(t.url, {
        dispatcher: this.agent,
        headers: { accept: ACCEPT, 'x-prometheus-scrape-timeout-seconds': String(this.opts.timeoutMs / 1000) },
        signal,
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: this.opts.timeoutMs,
      })
      if (res.statusCode !== 200) {
        await res.body.dump().catch(() => {})
        throw new ScrapeError('http', `HTTP ${res.statusCode}`)
      }
      contentType = res.headers['content-type'] as string | undefined
      const chunks: Buffer[] = []
      let bytes = 0
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        bytes += chunk.length
        if (bytes > this.opts.maxBodyBytes) {
          res.body.destroy()
          throw new ScrapeError('too_large', `body larger than ${this.opts.maxBodyBytes} bytes`)
        }
        chunks.push(chunk)
      }
      text = Buffer.concat(chunks).toString('utf8')
    } catch (err) {
      if (err instanceof ScrapeError) throw err
      const e = err as Error & { code?: string }
      if (signal.aborted || /TIMEOUT/.test(e.code ?? '') || e.name === 'TimeoutError') throw new ScrapeError('timeout', `no complete answer within ${this.opts.timeoutMs} ms`)
      throw new ScrapeError('connection', e.message)
    }
    const parsed = parseExposition(text, isOpenMetricsContentType(contentType) ? { openMetrics: true } : {})
    if (parsed.errorCount > 0) {
      this.m.sampleOutcomes.inc({ outcome: 'parse_error' }, parsed.errorCount)
      this.opts.log.warn({ target: t.url, errors: parsed.errors.slice(0, 3), count: parsed.errorCount }, 'lines of a scrape could not be parsed; the rest is kept')
    }
    if (parsed.nonFinite > 0) this.m.sampleOutcomes.inc({ outcome: 'non_finite' }, parsed.nonFinite)
    const out: TelemetryMessage[] = []
    let notDcgm = 0
    let unmapped = 0
    for (const smp of parsed.samples) {
      if (!smp.name.startsWith(this.opts.prefix)) {
        notDcgm++
        continue
      }
      const labels = smp.labels.instance === undefined ? { ...smp.labels, instance: t.instance, job: smp.labels.job ?? this.opts.job } : smp.labels
      const m = toTelemetry(smp.name, labels, smp.value, smp.timestampMs ?? at, t.fallbackHost)
      if (typeof m === 'string') unmapped++
      else out.push(m)
    }
    if (notDcgm) this.m.sampleOutcomes.inc({ outcome: 'not_dcgm' }, notDcgm)
    if (unmapped) this.m.sampleOutcomes.inc({ outcome: 'unmapped' }, unmapped)
    return out
  }

  private async publish(s: TargetState, messages: TelemetryMessage[], at: number): Promise<void> {
    if (messages.length === 0) return
    if (this.pending + messages.length > this.opts.maxPending) {
      this.m.sampleOutcomes.inc({ outcome: 'backlog' }, messages.length)
      this.m.errors.inc({ target: s.target.url, reason: 'backlog' })
      this.opts.log.warn({ target: s.target.url, pending: this.pending }, 'mqwriter is behind: scrape dropped to keep memory bounded')
      return
    }
    this.pending += messages.length
    // A batch not committed within a few intervals is given up: newer scrapes matter more.
    const deadline = at + 4 * this.opts.intervalMs
    const chunks: TelemetryMessage[][] = []
    for (let i = 0; i < messages.length; i += this.opts.publishBatch) chunks.push(messages.slice(i, i + this.opts.publishBatch))
    await Promise.all(
      chunks.map(async (c) => {
        try {
          const outcome = await this.opts.publisher.publish(c, deadline)
          this.m.sampleOutcomes.inc({ outcome }, c.length)
        } finally {
          this.pending -= c.length
        }
      }),
    )
  }

  /** Stops scheduling and waits for scrapes in progress (their publishes included). */
  async stop(): Promise<void> {
    this.stopped = true
    for (const s of this.states.values()) clearTimeout(s.timer)
    await Promise.allSettled([...this.inflight])
    await this.agent.close()
  }
}
