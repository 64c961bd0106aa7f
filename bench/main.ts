// `npm run bench [-- suite…] [--duration S] [--runs N] [--out DIR]`: runs the benchmark suites in one
// process tree against one database, prints a table per suite and writes JSON with the machine's
// description under bench/results/. Every figure is the median of N runs (default 3) with min–max.
// Not part of the package: it needs a clone with dev dependencies (autocannon, pg-boss, tsx).
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { loadConfig } from '../src/config/index.js'
import { createPool, migrate, useDatabase } from '../src/db/index.js'
import { SUITES, type BenchOptions, type Context, type Row, type SuiteName } from './context.js'
import { machineInfo, type MachineInfo } from './machine.js'
import { ROOT } from './proc.js'
import { figure, fmt, fmtFigure, ratio, type Figure } from './stats.js'
import { helloCeiling, insertCeiling, moveCeiling, pipelineCeiling, setupBenchTables, telemetryInsertCeiling } from './suites/ceilings.js'
import { mqwriterRun } from './suites/mqwriter.js'
import { BUNDLE_MAX_MESSAGES } from '../src/protocol/bundle.js'

async function repeat(ctx: Context, name: string, fn: () => Promise<number>): Promise<Figure> {
  const runs: number[] = []
  for (let i = 0; i < ctx.opts.runs; i++) {
    runs.push(await fn())
    ctx.log(`  ${name} run ${i + 1}/${ctx.opts.runs}: ${fmt(runs.at(-1)!)}`)
  }
  const f = figure(runs)
  ctx.figures.set(name, f)
  return f
}

/** Runs fn opts.runs times; fn returns several named numbers; each becomes a figure. */
async function repeatMany(ctx: Context, prefix: string, fn: () => Promise<Record<string, number>>): Promise<Record<string, Figure>> {
  const runs: Record<string, number>[] = []
  for (let i = 0; i < ctx.opts.runs; i++) {
    runs.push(await fn())
    ctx.log(`  ${prefix} run ${i + 1}/${ctx.opts.runs}: ${Object.entries(runs.at(-1)!).map(([k, v]) => `${k}=${fmt(v, 1)}`).join(' ')}`)
  }
  const out: Record<string, Figure> = {}
  for (const k of Object.keys(runs[0] ?? {})) {
    out[k] = figure(runs.map((r) => r[k]!))
    ctx.figures.set(`${prefix}.${k}`, out[k])
  }
  return out
}

const suites: Record<SuiteName, (ctx: Context) => Promise<Row[]>> = {
  async ceilings(ctx) {
    await setupBenchTables(ctx.pool)
    const hello = await repeatMany(ctx, 'ceilings.hello', async () => {
      const r = await helloCeiling(ctx.opts.durationS)
      return { rps: r.requestsPerSecond, p50: r.latencyP50, p99: r.latencyP99, bodyBytes: r.bodyBytes }
    })
    const insert = await repeat(ctx, 'ceilings.insert', () => insertCeiling(ctx.pool, ctx.opts.durationS))
    const telemetryInsert = await repeat(ctx, 'ceilings.telemetryInsert', () => telemetryInsertCeiling(ctx.pool, ctx.opts.durationS))
    const move = await repeatMany(ctx, 'ceilings.move', () => moveCeiling(ctx.pool, ctx.opts.durationS, ctx.opts.smoke ? 5_000 : 200_000))
    const pipeline = await repeatMany(ctx, 'ceilings.pipeline', () => pipelineCeiling(ctx.pool, ctx.opts.durationS))
    const bundled = await repeatMany(ctx, 'ceilings.pipelineBundled', () => pipelineCeiling(ctx.pool, ctx.opts.durationS, BUNDLE_MAX_MESSAGES))
    return [
      { figure: `fastify hello-world POST (${fmt(hello.bodyBytes!.median)}-byte body, 64 conns), req/s`, value: fmtFigure(hello.rps!) },
      { figure: 'raw multi-row INSERT into a queue_messages-shaped table, rows/s', value: fmtFigure(insert) },
      { figure: 'raw multi-row INSERT into a telemetry-shaped table, rows/s', value: fmtFigure(telemetryInsert) },
      { figure: 'raw SQL move SELECT → INSERT telemetry → DELETE, through the client, rows/s', value: fmtFigure(move.clientMove!) },
      { figure: 'raw SQL move in one server-side statement (upper bound), rows/s', value: fmtFigure(move.serverMove!) },
      {
        figure: 'raw DB pipeline: INSERT queue (2 conns) + client move to telemetry (2 workers) at once, telemetry rows/s',
        value: fmtFigure(pipeline.moved!),
        ratio: `queue INSERT ${fmt(pipeline.inserted!.median)}/s, depth at end ${fmt(pipeline.depthEnd!.median)}`,
      },
      {
        figure: `raw DB pipeline, bundles of ${BUNDLE_MAX_MESSAGES} samples a queue row (remote_write's shape), telemetry rows/s`,
        value: fmtFigure(bundled.moved!),
        ratio: `queue INSERT ${fmt(bundled.inserted!.median)} samples/s, depth at end ${fmt(bundled.depthEnd!.median)} rows`,
      },
    ]
  },

  async mqwriter(ctx) {
    const single = await repeatMany(ctx, 'mqwriter.single', async () => {
      const r = await mqwriterRun(ctx.pool, ctx.databaseUrl, ctx.opts.durationS, 'single')
      if (r.stored < r.acknowledged) throw new Error(`durability violated: ${r.acknowledged} acknowledged, ${r.stored} stored`)
      return { mps: r.messagesPerSecond, p50: r.latencyP50, p99: r.latencyP99, non2xx: r.non2xx, acknowledged: r.acknowledged, stored: r.stored }
    })
    const arrays = await repeatMany(ctx, 'mqwriter.array', async () => {
      const r = await mqwriterRun(ctx.pool, ctx.databaseUrl, ctx.opts.durationS, 'array:100')
      if (r.stored < r.acknowledged) throw new Error(`durability violated: ${r.acknowledged} acknowledged, ${r.stored} stored`)
      return { mps: r.messagesPerSecond, p50: r.latencyP50, p99: r.latencyP99, non2xx: r.non2xx }
    })
    const hello = ctx.figures.get('ceilings.hello.rps')
    const insert = ctx.figures.get('ceilings.insert')
    return [
      {
        figure: 'single-message publishes/s (64 conns)',
        value: fmtFigure(single.mps!),
        ...(hello ? { ratio: `${ratio(single.mps!.median, hello.median)} of hello-world` } : {}),
        target: '>= 50% of hello-world',
      },
      { figure: 'single-message latency p50 / p99, ms', value: `${fmt(single.p50!.median, 1)} / ${fmt(single.p99!.median, 1)}`, target: 'p99 < 50 ms' },
      { figure: 'answered 201 / stored (last run)', value: `${fmt(single.acknowledged!.runs.at(-1)!)} / ${fmt(single.stored!.runs.at(-1)!)}` },
      { figure: 'non-2xx answers (median)', value: fmt(single.non2xx!.median) },
      {
        figure: '100-message arrays, messages/s (64 conns)',
        value: fmtFigure(arrays.mps!),
        ...(insert ? { ratio: `${ratio(arrays.mps!.median, insert.median)} of raw INSERT` } : {}),
      },
      { figure: '100-message arrays latency p50 / p99, ms', value: `${fmt(arrays.p50!.median, 1)} / ${fmt(arrays.p99!.median, 1)}` },
    ]
  },

  async drain(ctx) {
    const { drainSuite } = await import('./suites/drain.js')
    return drainSuite(ctx)
  },
  async e2e(ctx) {
    const { e2eSuite } = await import('./suites/e2e.js')
    return e2eSuite(ctx)
  },
  async ingest(ctx) {
    const { ingestSuite } = await import('./suites/ingest.js')
    return ingestSuite(ctx)
  },
  async api(ctx) {
    const { apiSuite } = await import('./suites/api.js')
    return apiSuite(ctx)
  },
  async web(ctx) {
    const { webSuite } = await import('./suites/web.js')
    return webSuite(ctx)
  },
  async peer(ctx) {
    const { peerSuite } = await import('./suites/peer.js')
    return peerSuite(ctx)
  },
}

export function table(rows: Row[]): string {
  const head = ['figure', 'median (min–max)', 'ratio', 'target']
  const lines = rows.map((r) => [r.figure, r.value, r.ratio ?? '', r.target ?? ''])
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...lines.map((l) => `| ${l.join(' | ')} |`)].join('\n')
}

async function benchDatabase(baseUrl: string, smoke: boolean): Promise<string> {
  const name = smoke ? 'tpipe_bench_smoke' : 'tpipe_bench'
  const admin = new pg.Client({ connectionString: baseUrl })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const u = new URL(baseUrl)
  u.pathname = `/${name}`
  return u.toString()
}

export async function runBench(opts: BenchOptions, log: (m: string) => void = console.log): Promise<{ machine: MachineInfo; results: Record<string, Row[]> }> {
  // An embedded PostgreSQL that the bench had to start is stopped again at the end (useDatabase).
  const db = opts.databaseUrl ? { url: opts.databaseUrl, release: async () => {} } : await useDatabase(loadConfig({}, process.env), log)
  try {
    return await benchIn(db.url, opts, log)
  } finally {
    await db.release()
  }
}

async function benchIn(base: string, opts: BenchOptions, log: (m: string) => void): Promise<{ machine: MachineInfo; results: Record<string, Row[]> }> {
  const databaseUrl = await benchDatabase(base, opts.smoke ?? false)
  await migrate(databaseUrl, 'up')
  const pool = createPool(databaseUrl, { max: 8, applicationName: 'tpipe-bench' })
  const machine = await machineInfo(pool)
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, PostgreSQL ${machine.postgres}`)
  const ctx: Context = { pool, databaseUrl, opts, figures: new Map(), log }
  const results: Record<string, Row[]> = {}
  mkdirSync(opts.outDir, { recursive: true })
  // Ceilings first, always in the same run: later suites are read as ratios to them.
  const order = SUITES.filter((s) => opts.suites.includes(s))
  try {
    for (const s of order) {
      log(`\n== ${s} ==`)
      const started = Date.now()
      results[s] = await suites[s](ctx)
      log(table(results[s]!))
      log(`(${s}: ${((Date.now() - started) / 1000).toFixed(0)} s)`)
      const file = join(opts.outDir, `${s}-${machine.date.replace(/[:.]/g, '-')}.json`)
      writeFileSync(file, JSON.stringify({ suite: s, machine, options: opts, rows: results[s], figures: Object.fromEntries(ctx.figures) }, null, 2) + '\n')
    }
  } finally {
    await pool.end()
  }
  return { machine, results }
}

export function parseBenchArgs(argv: string[]): BenchOptions {
  const suitesArg: SuiteName[] = []
  let durationS = 5
  let runs = 3
  let outDir = join(ROOT, 'bench', 'results')
  let smoke = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--duration') durationS = Number(argv[++i])
    else if (a === '--runs') runs = Number(argv[++i])
    else if (a === '--out') outDir = argv[++i]!
    else if (a === '--smoke') smoke = true
    else if ((SUITES as readonly string[]).includes(a)) suitesArg.push(a as SuiteName)
    else throw new Error(`unknown bench argument ${JSON.stringify(a)}: suites are ${SUITES.join(', ')}; options --duration S, --runs N, --out DIR`)
  }
  if (!Number.isFinite(durationS) || durationS <= 0) throw new Error('--duration must be a positive number of seconds')
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer')
  return { suites: suitesArg.length ? suitesArg : [...SUITES], durationS, runs, outDir, smoke }
}


export { SUITES, type BenchOptions, type SuiteName } from './context.js'
