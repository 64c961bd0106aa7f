// peer: pg-boss (the PostgreSQL job queue a Node.js user would reach for) doing the same job as tpipe:
// single-message sends from 64 concurrent senders, workers fetching in batches of 1,000 (pg-boss waits its polling interval, 0.5 s minimum, between fetches, so the batch is what sets its pace), inserting
// telemetry rows and completing the jobs. Messages/s completed end to end over a steady window, beside
// tpipe's drain and e2e figures from the same run.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { Context, Row } from '../context.js'
import { benchModule } from '../proc.js'
import { fmt, fmtFigure, figure } from '../stats.js'

function start(args: unknown): { child: ChildProcess; ready: Promise<void>; result: Promise<Record<string, number>> } {
  const child = spawn(process.execPath, [...benchModule('peer-worker.ts'), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  let readyResolve!: () => void
  const ready = new Promise<void>((r) => (readyResolve = r))
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
    if (out.includes('"ready"')) readyResolve()
  })
  const result = once(child, 'exit').then(() => {
    const last = out.trim().split('\n').at(-1) ?? '{}'
    return JSON.parse(last) as Record<string, number>
  })
  return { child, ready, result }
}

async function peerOnce(ctx: Context, durationS: number): Promise<{ completedPerSecond: number; sentPerSecond: number; backlog: number }> {
  await ctx.pool.query('DROP SCHEMA IF EXISTS pgboss CASCADE')
  await ctx.pool.query('DROP TABLE IF EXISTS peer_telemetry')
  await ctx.pool.query('CREATE TABLE peer_telemetry (LIKE telemetry INCLUDING ALL)')
  const queue = 'telemetry'
  const producer = start({ role: 'producer', url: ctx.databaseUrl, queue, senders: 64 })
  await producer.ready
  const workers = [0, 1].map(() => start({ role: 'worker', url: ctx.databaseUrl, queue, batchSize: 1000, subscriptions: 2 }))
  await Promise.all(workers.map((w) => w.ready))
  const warmupMs = ctx.opts.smoke ? 500 : 3000
  await new Promise((r) => setTimeout(r, warmupMs)) // warm-up
  const count = async () => Number((await ctx.pool.query('SELECT count(*) AS n FROM peer_telemetry')).rows[0].n)
  const c0 = await count()
  const t0 = Date.now()
  await new Promise((r) => setTimeout(r, durationS * 1000))
  const c1 = await count()
  const seconds = (Date.now() - t0) / 1000
  producer.child.kill('SIGTERM')
  const sent = (await producer.result).sent ?? 0
  for (const w of workers) w.child.kill('SIGTERM')
  await Promise.all(workers.map((w) => w.result))
  const done = await count()
  return { completedPerSecond: (c1 - c0) / seconds, sentPerSecond: sent / (seconds + warmupMs / 1000), backlog: sent - done }
}

export async function peerSuite(ctx: Context): Promise<Row[]> {
  const runs: { completedPerSecond: number; sentPerSecond: number; backlog: number }[] = []
  for (let i = 0; i < ctx.opts.runs; i++) {
    runs.push(await peerOnce(ctx, ctx.opts.durationS))
    const r = runs.at(-1)!
    ctx.log(`  peer run ${i + 1}/${ctx.opts.runs}: completed ${fmt(r.completedPerSecond)} msg/s, sent ${fmt(r.sentPerSecond)} msg/s, backlog ${fmt(r.backlog)}`)
  }
  const done = figure(runs.map((r) => r.completedPerSecond))
  const sent = figure(runs.map((r) => r.sentPerSecond))
  ctx.figures.set('peer.completed', done)
  const rows: Row[] = [
    { figure: 'pg-boss 10: jobs completed into telemetry, msg/s (64 senders, 2×2 workers, batches of 1,000; pg-boss polls every 0.5 s between fetches)', value: fmtFigure(done) },
    { figure: 'pg-boss 10: single-job sends/s', value: fmtFigure(sent) },
  ]
  for (const [key, f] of ctx.figures) {
    if (key.startsWith('e2e.balanced') && !key.endsWith('.p99')) {
      rows.push({ figure: `tpipe ${key.slice(4)} e2e vs pg-boss`, value: `${fmt(f.median)} vs ${fmt(done.median)}`, ratio: `${(f.median / Math.max(done.median, 1)).toFixed(1)}×`, target: '>= 3×' })
    }
    if (key.startsWith('drain.')) rows.push({ figure: `tpipe drain ${key.slice(6)} vs pg-boss`, value: `${fmt(f.median)} vs ${fmt(done.median)}`, ratio: `${(f.median / Math.max(done.median, 1)).toFixed(1)}×` })
  }
  return rows
}
