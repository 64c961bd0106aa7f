// `tpipe dev`: the whole pipeline on one machine. Takes the per-home lock (lock.ts), checks what can
// be checked before starting anything (preflight.ts), resolves the database (DATABASE_URL or the
// embedded PostgreSQL), migrates, starts the Supervisor with listr2 progress, serves the control
// endpoint that `tpipe scale` / `tpipe status` use (control.ts), shows a live status view (view.ts),
// and shuts down in order on Ctrl-C. Whatever it started, it stops, also when starting fails.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Listr } from 'listr2'
import { ensureEmbedded, migrate, stopEmbedded, type Pool } from '../db/index.js'
import { provisionServiceLogins, type DbService } from '../db/roles.js'
import { stateFile, type DevState } from './client.js'
import { startControl } from './control.js'
import { DevLock } from './lock.js'
import { preflight } from './preflight.js'
import { PACKAGE_ROOT } from './process.js'
import { devPool, telemetryRows } from './sql.js'
import { Supervisor, type Topology } from './supervisor.js'
import { removeTokensFile, serviceTokens, tokensFile, writeTokensFile } from './tokens.js'
import { LiveView, formatTotals, statusAtStop } from './view.js'
import { startDcgmSim, type DcgmSim } from '../dcgmsim/server.js'

export const DEFAULT_CSV = join(PACKAGE_ROOT, 'charts', 'streamer', 'files', 'telemetry.csv')
/** Per streamer: modest, so a laptop stays responsive; `--rate max` lifts it. */
export const DEFAULT_RATE = 250

export interface DevOptions extends Topology {
  home: string
  databaseUrl: string | undefined
  csv: string
  rate: number
  loops: number
  portBase: number
  keepTimestamps?: boolean
  logLevel?: string
  /** Live view: 'auto' (TTY → refreshed table, else a line every 5 s), or 'none'. */
  view: 'auto' | 'none'
  /** Stop after this many seconds (0 = until Ctrl-C / SIGTERM). */
  durationS: number
  /** csv: streamers loop the CSV; scrape: `streamers` scrapers scrape an in-process dcgm-sim of simNodes nodes. */
  source?: 'csv' | 'scrape'
  simNodes?: number
  scrapeIntervalMs?: number
  /** Also require a (generated) TPIPE_API_TOKEN on apigw's /api/*; TPIPE_API_TOKEN set in env does the same. */
  protectApi?: boolean
  log: (msg: string) => void
}

/** A start that failed for a reason the user can fix: one line, no stack. */
export class DevStartError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DevStartError'
  }
}

/** Resolves on the first SIGINT/SIGTERM; a second one kills every child at once. */
function stopSignals(onSecond: () => void): { stopped: Promise<string>; readonly requested: boolean; dispose(): void } {
  let count = 0
  let resolve!: (sig: string) => void
  const stopped = new Promise<string>((r) => (resolve = r))
  const handler = (sig: NodeJS.Signals) => {
    count++
    if (count === 1) resolve(sig)
    else onSecond()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    stopped,
    get requested() {
      return count > 0
    },
    dispose() {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}

export async function runDev(o: DevOptions): Promise<void> {
  // Refused at once when another tpipe dev runs on this home (names its pid and URLs).
  const lock = await DevLock.acquire(o.home)
  // The services never run open: publish, lease/ack and assignment need these (random unless the
  // environment sets them), kept 0600 for this run only, so `tpipe gpus`/`tpipe status` can send them.
  const tokens = serviceTokens(process.env, o.protectApi)
  let embeddedStarted = false
  let databaseUrl = o.databaseUrl
  // Each service's own least-privilege URL (README › Security); empty when the owner may not create roles.
  let serviceUrls: Partial<Record<DbService, string>> = {}
  const ctx: { sup?: Supervisor; pool?: Pool; sim?: DcgmSim } = {}
  const signals = stopSignals(() => {
    o.log('second signal: killing every service now')
    for (const p of ctx.sup?.all() ?? []) p.signal('SIGKILL')
    process.exit(130)
  })
  const cleanup = async () => {
    await ctx.sup?.stop(5000, { drainMs: 0 }).catch(() => {})
    await ctx.sim?.close().catch(() => {})
    await ctx.pool?.end().catch(() => {})
    if (embeddedStarted) await stopEmbedded(o.home).catch(() => {})
    removeTokensFile(o.home)
    await lock.release().catch(() => {})
    signals.dispose()
  }
  const interrupted = () => {
    if (signals.requested) throw new DevStartError('interrupted while starting; everything this run started was stopped')
  }

  try {
    // What can be checked before anything starts: fails in milliseconds with the cause.
    const problem = await preflight({ csv: o.csv, streamers: o.streamers, portBase: o.portBase })
    if (problem) throw new DevStartError(problem)
    writeTokensFile(o.home, tokens)
    const tasks = new Listr(
      [
        {
          title: databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PostgreSQL under ${o.home}`,
          task: async (_c, task) => {
            if (!databaseUrl) {
              const s = await ensureEmbedded(o.home, (m) => (task.output = m))
              // Stopped on exit only if this run started it: another user of the home may rely on it.
              embeddedStarted = s.startedNow === true
              databaseUrl = s.url
              task.title = `embedded PostgreSQL on 127.0.0.1:${s.port}${embeddedStarted ? '' : ' (already running)'}`
            }
            interrupted()
          },
        },
        {
          title: 'migrations',
          task: async (_c, task) => {
            const r = await migrate(databaseUrl!, 'up')
            task.title = r.applied.length ? `migrations: applied ${r.applied.length}` : 'migrations: up to date'
            interrupted()
          },
        },
        {
          title: 'service roles',
          task: async (_c, task) => {
            try {
              const logins = await provisionServiceLogins(databaseUrl!, { home: o.home })
              serviceUrls = Object.fromEntries(logins.map((l) => [l.service, l.url]))
              task.title = `service roles: ${logins.map((l) => l.user).join(', ')}`
            } catch (err) {
              // Only a DATABASE_URL whose user may not create roles gets here (the embedded one is superuser).
              if ((err as { code?: string }).code !== '42501' || !o.databaseUrl) throw err
              task.title = 'service roles: not created (the DATABASE_URL user lacks CREATEROLE): every service connects as that user'
            }
            interrupted()
          },
        },
        {
          title: 'services',
          task: async (_c, task) => {
            ctx.pool = devPool(databaseUrl!)
            const scrape = o.source === 'scrape'
            if (scrape) {
              ctx.sim = await startDcgmSim({ csv: o.csv, nodes: o.simNodes ?? 4, layout: 'ports', host: '127.0.0.1', port: 0 })
              task.output = `dcgm-sim: ${ctx.sim.nodes.length} simulated dcgm-exporter nodes, ${ctx.sim.urls[0]} …`
            }
            const sup = new Supervisor({
              ...o,
              ...(scrape ? { streamers: 0, scrapers: o.streamers, scrapeTargets: ctx.sim!.urls, scrapeIntervalMs: o.scrapeIntervalMs ?? 15_000 } : {}),
              databaseUrl: databaseUrl!,
              serviceDatabaseUrls: serviceUrls,
              apigwPort: o.portBase,
              pool: ctx.pool,
              tokens,
              log: o.log,
              env: { TPIPE_LOG_LEVEL: o.logLevel ?? 'info' },
            })
            ctx.sup = sup
            await sup.start(async (title, fn) => {
              interrupted()
              const t0 = Date.now()
              task.output = title
              await fn()
              task.output = `${title} (${Date.now() - t0} ms)`
            })
            task.title = `every service ready: apigw ${sup.apigwUrl}`
          },
        },
      ],
      { renderer: process.stdout.isTTY ? 'default' : 'simple', exitOnError: true, rendererOptions: { showErrorMessage: false } },
    )
    await tasks.run()
  } catch (err) {
    await cleanup()
    if (err instanceof DevStartError) throw err
    throw new DevStartError((err as Error).message.split('\n')[0]!)
  }
  const sup = ctx.sup!

  const control = await startControl(sup)
  const logs = join(o.home, 'dev', 'logs')
  const state: DevState = { pid: process.pid, control: control.url, apigw: sup.apigwUrl, startedAt: new Date().toISOString() }
  mkdirSync(join(o.home, 'dev'), { recursive: true })
  writeFileSync(stateFile(o.home), JSON.stringify(state, null, 2) + '\n')
  lock.update({ apigw: sup.apigwUrl, control: control.url, logs })

  o.log(`\napigw      ${sup.apigwUrl}/api/v1/gpus`)
  o.log(`Swagger UI ${sup.apigwUrl}/swagger`)
  o.log(`logs       ${logs}`)
  o.log(`tokens     ${tokensFile(o.home)} (mode 0600: publish, queue and control${tokens.TPIPE_API_TOKEN ? ', API' : ''} tokens of this run)`)
  o.log(`control    ${control.url} (tpipe status, tpipe scale mqreader 4)\n`)

  const view = o.view === 'auto' ? new LiveView(sup, o.log) : undefined
  view?.start()
  const timer = o.durationS > 0 ? setTimeout(() => process.emit('SIGTERM', 'SIGTERM'), o.durationS * 1000) : undefined
  timer?.unref()
  await signals.stopped
  if (timer) clearTimeout(timer)
  view?.stop()

  o.log('\nshutting down: streamers → writers (flush) → queue drains → readers (drain) → collectors → apigw → database (Ctrl-C again kills everything now)')
  const t0 = Date.now()
  await control.close()
  // Published is read once the streamers stopped (every publish answered) while the writers still run;
  // persisted once the readers drained (every leased message acked, so persisted) while the collectors
  // still run: read with the published total, it missed whatever was in flight when the streamers stopped.
  let final: Awaited<ReturnType<Supervisor['status']>> | undefined
  let drained: Awaited<ReturnType<Supervisor['status']>> | undefined
  await sup.stop(20_000, {
    progress: (m) => o.log(`  ${m}`),
    afterStage: async (s) => {
      if (s === 'streamer') final = await sup.status().catch(() => undefined)
      if (s === 'mqreader') drained = await sup.status().catch(() => undefined)
    },
  })
  await ctx.sim?.close()
  const rows = ctx.pool ? await telemetryRows(ctx.pool).catch(() => undefined) : undefined
  const after = ctx.pool ? await sup.status().catch(() => undefined) : undefined
  await ctx.pool?.end().catch(() => {})
  if (embeddedStarted) {
    await stopEmbedded(o.home)
    o.log('  embedded PostgreSQL stopped')
  }
  rmSync(stateFile(o.home), { force: true })
  removeTokensFile(o.home)
  await lock.release()
  signals.dispose()
  o.log(`stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  if (final) o.log(formatTotals(statusAtStop(final, drained, after), rows, process.stdout.isTTY === true))
}
