// drain: 200,000 messages pre-loaded in queue_messages, moved into telemetry by real mqreader and
// collector processes (1 reader + 2 collectors, then 2 + 4); messages/s from the first row moved to
// the queue being empty, checked against the telemetry row count. Read against the raw SQL move
// ceiling measured in the same run.
import type { Context, Row } from '../context.js'
import { port, startService, type Service } from '../proc.js'
import { preloadQueue } from '../sqlfixtures.js'
import { fmt, fmtFigure, ratio, figure } from '../stats.js'
import { plan, replicaNames, rangeText } from '../../src/partitions/plan.js'

export const DRAIN_MESSAGES = 200_000

async function drainOnce(ctx: Context, readers: number, collectors: number, messages: number): Promise<number> {
  await ctx.pool.query('TRUNCATE queue_messages, telemetry')
  await ctx.pool.query('TRUNCATE dead_letters').catch(() => {})
  await preloadQueue(ctx.pool, 'queue_messages', messages)
  const env = { DATABASE_URL: ctx.databaseUrl }
  const services: Service[] = []
  try {
    const p = plan(replicaNames('mqreader', readers))
    const readerSvcs = await Promise.all(
      Object.entries(p).map(async ([name, r]) => startService('mqreader', await port(), env, ['--reader-name', name, '--partitions', rangeText(r)])),
    )
    services.push(...readerSvcs)
    const started = Date.now()
    const collectorSvcs = await Promise.all(
      Array.from({ length: collectors }, async () => startService('collector', await port(), env, ['--readers', readerSvcs.map((s) => s.url).join(',')])),
    )
    services.push(...collectorSvcs)
    const deadline = Date.now() + 300_000
    for (;;) {
      const n = Number((await ctx.pool.query('SELECT count(*) AS n FROM queue_messages')).rows[0].n)
      if (n === 0) break
      if (Date.now() > deadline) throw new Error(`drain did not finish in 300 s (${n} left)`)
      await new Promise((r) => setTimeout(r, 100))
    }
    const seconds = (Date.now() - started) / 1000
    const moved = Number((await ctx.pool.query('SELECT count(*) AS n FROM telemetry')).rows[0].n)
    if (moved !== messages) throw new Error(`drain moved ${moved} rows into telemetry, expected ${messages}`)
    return messages / seconds
  } finally {
    await Promise.all(services.map((s) => s.stop()))
  }
}

export async function drainSuite(ctx: Context): Promise<Row[]> {
  const rows: Row[] = []
  const ceiling = ctx.figures.get('ceilings.move.clientMove')
  for (const [readers, collectors] of [
    [1, 2],
    [2, 4],
  ] as const) {
    const runs: number[] = []
    for (let i = 0; i < ctx.opts.runs; i++) {
      runs.push(await drainOnce(ctx, readers, collectors, ctx.opts.smoke ? 5_000 : DRAIN_MESSAGES))
      ctx.log(`  drain ${readers}+${collectors} run ${i + 1}/${ctx.opts.runs}: ${fmt(runs.at(-1)!)} msg/s`)
    }
    const f = figure(runs)
    ctx.figures.set(`drain.${readers}+${collectors}`, f)
    rows.push({
      figure: `drain ${fmt(ctx.opts.smoke ? 5_000 : DRAIN_MESSAGES)} messages, ${readers} reader + ${collectors} collectors, msg/s`,
      value: fmtFigure(f),
      ...(ceiling ? { ratio: `${ratio(f.median, ceiling.median)} of raw SQL move` } : {}),
      target: '>= 40% of raw SQL move',
    })
  }
  return rows
}
