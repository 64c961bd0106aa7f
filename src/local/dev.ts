// `tpipe dev`: the whole pipeline on one machine. Resolves the database (DATABASE_URL or the embedded
// PostgreSQL), migrates, starts the Supervisor with listr2 progress, serves the control endpoint that
// `tpipe scale` / `tpipe status` use, shows a live status view, and shuts down in order on Ctrl-C.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { LogController } from 'fastify'
import { Listr } from 'listr2'
import type { ServiceName } from '../config/types.js'
import { createPool, embeddedStatus, ensureEmbedded, migrate, stopEmbedded, type Pool } from '../db/index.js'
import { errorBody } from '../errors.js'
import { stateFile, type DevState } from './client.js'
import { PACKAGE_ROOT } from './process.js'
import { SCALABLE, Supervisor, type Topology } from './supervisor.js'
import { renderStatus, statusLine } from './view.js'
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
  /** Live view: 'auto' (TTY → refreshed table, else a line every 5 s), or 'none'. */
  view: 'auto' | 'none'
  /** Stop after this many seconds (0 = until Ctrl-C / SIGTERM). */
  durationS: number
  /** csv: streamers loop the CSV; scrape: `streamers` scrapers scrape an in-process dcgm-sim of simNodes nodes. */
  source?: 'csv' | 'scrape'
  simNodes?: number
  scrapeIntervalMs?: number
  log: (msg: string) => void
}

export async function runDev(o: DevOptions): Promise<void> {
  let embeddedStarted = false
  let databaseUrl = o.databaseUrl
  const ctx: { sup?: Supervisor; pool?: Pool; sim?: DcgmSim } = {}
  const tasks = new Listr(
    [
      {
        title: databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PostgreSQL under ${o.home}`,
        task: async (_c, task) => {
          if (!databaseUrl) {
            // Stop it on exit only if this run started it: another user of the home may rely on it.
            embeddedStarted = !(await embeddedStatus(o.home)).running
            const s = await ensureEmbedded(o.home, (m) => (task.output = m))
            databaseUrl = s.url
            task.title = `embedded PostgreSQL on 127.0.0.1:${s.port}`
          }
        },
      },
      {
        title: 'migrations',
        task: async (_c, task) => {
          const r = await migrate(databaseUrl!, 'up')
          task.title = r.applied.length ? `migrations: applied ${r.applied.length}` : 'migrations: up to date'
        },
      },
      {
        title: 'services',
        task: async (_c, task) => {
          ctx.pool = createPool(databaseUrl!, { max: 2, applicationName: 'tpipe-dev', onError: () => {} })
          const scrape = o.source === 'scrape'
          if (scrape) {
            ctx.sim = await startDcgmSim({ csv: o.csv, nodes: o.simNodes ?? 4, layout: 'ports', host: '127.0.0.1', port: 0 })
            o.log(`dcgm-sim: ${ctx.sim.nodes.length} simulated dcgm-exporter nodes, ${ctx.sim.urls[0]} …`)
          }
          const sup = new Supervisor({
            ...o,
            ...(scrape ? { streamers: 0, scrapers: o.streamers, scrapeTargets: ctx.sim!.urls, scrapeIntervalMs: o.scrapeIntervalMs ?? 15_000 } : {}),
            databaseUrl: databaseUrl!,
            apigwPort: o.portBase,
            pool: ctx.pool,
            log: o.log,
          })
          ctx.sup = sup
          return task.newListr(
            [
              {
                title: 'starting',
                task: async (_c2, sub) => {
                  await sup.start(async (title, fn) => {
                    const t0 = Date.now()
                    sub.output = title
                    await fn()
                    sub.output = `${title} (${Date.now() - t0} ms)`
                  })
                  sub.title = 'every service ready'
                },
              },
            ],
            { rendererOptions: { collapseSubtasks: false } },
          )
        },
      },
    ],
    { renderer: process.stdout.isTTY ? 'default' : 'simple', exitOnError: true },
  )
  try {
    await tasks.run()
  } catch (err) {
    await ctx.sup?.stop().catch(() => {})
    await ctx.pool?.end().catch(() => {})
    await ctx.sim?.close()
    throw err
  }
  const sup = ctx.sup!

  // Control endpoint for `tpipe scale` / `tpipe status`, on localhost only.
  const control = Fastify({ logger: false, logController: new LogController({ disableRequestLogging: true }) })
  control.get('/healthz', async () => ({ status: 'ok' }))
  control.get('/status', async () => sup.status())
  control.post('/scale', async (req, reply) => {
    const body = req.body as { service?: unknown; replicas?: unknown } | undefined
    const service = body?.service
    const replicas = body?.replicas
    if (typeof service !== 'string' || !SCALABLE.includes(service as ServiceName)) {
      return reply.status(400).send(errorBody('TPIPE_ERR_VALIDATION', `service must be one of ${SCALABLE.join(', ')}`))
    }
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      return reply.status(400).send(errorBody('TPIPE_ERR_VALIDATION', 'replicas must be a non-negative integer'))
    }
    try {
      return await sup.scale(service as ServiceName, replicas)
    } catch (err) {
      return reply.status(400).send(errorBody('TPIPE_ERR_VALIDATION', (err as Error).message))
    }
  })
  const controlUrl = await control.listen({ host: '127.0.0.1', port: 0 })
  const state: DevState = { pid: process.pid, control: controlUrl, apigw: sup.apigwUrl, startedAt: new Date().toISOString() }
  mkdirSync(join(o.home, 'dev'), { recursive: true })
  writeFileSync(stateFile(o.home), JSON.stringify(state, null, 2) + '\n')

  o.log(`\napigw      ${sup.apigwUrl}/api/v1/gpus`)
  o.log(`Swagger UI ${sup.apigwUrl}/swagger`)
  o.log(`logs       ${join(o.home, 'dev', 'logs')}`)
  o.log(`control    ${controlUrl} (tpipe status, tpipe scale mqreader 4)\n`)

  let viewTimer: NodeJS.Timeout | undefined
  if (o.view === 'auto') {
    const tty = process.stdout.isTTY
    viewTimer = setInterval(
      () =>
        void sup.status().then((s) => {
          if (tty) process.stdout.write(`\x1b[H\x1b[2J${new Date().toISOString()}  tpipe dev — Ctrl-C stops everything\n\n${renderStatus(s)}\n`)
          else o.log(`${new Date().toISOString()} ${statusLine(s)}`)
        }),
      tty ? 1000 : 5000,
    )
  }

  await new Promise<void>((resolve) => {
    const done = () => resolve()
    process.once('SIGINT', done)
    process.once('SIGTERM', done)
    if (o.durationS > 0) setTimeout(done, o.durationS * 1000).unref()
  })
  if (viewTimer) clearInterval(viewTimer)
  o.log('\nshutting down: streamers → writers (flush) → readers (drain) → collectors → apigw → database')
  const t0 = Date.now()
  await control.close()
  rmSync(stateFile(o.home), { force: true })
  await sup.stop()
  await ctx.sim?.close()
  await ctx.pool?.end().catch(() => {})
  if (embeddedStarted) await stopEmbedded(o.home)
  o.log(`stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
}
