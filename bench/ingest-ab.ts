// Interleaved A/B of builds on remote_write ingest (the first part of the ingest suite): each build's own
// remoteWriteOnce — its mqwriter, mqreaders and collectors from its dist/, its migrations on a fresh
// database, the suite's sender (bench/rw-load.ts) — in turn, the order of the builds alternating every
// round. Runs are short (20 s warm-up, 15 s window) so rounds fit between the machine's slow and fast
// moments; read the sums, not one run. A build is a directory holding a built checkout (`git worktree add
// /tmp/x <commit> && cd /tmp/x && npm ci && npm run build`). The database: TPIPE_DATABASE_URL, or the
// embedded PostgreSQL of TPIPE_HOME (started if needed).
// A build dir may carry NODE_OPTIONS for the processes of its runs after an @ (the services and the sender):
// `dir@--max-semi-space-size=32` compares V8 settings on one build. After a # (last), the locale of its run's
// database (LC_COLLATE and LC_CTYPE; installed on the machine): `dir#en_US.UTF-8` against `dir` measures what
// a database created in the official postgres image's default locale costs ingest. After a ~ (first), the
// readers and collectors of its run: `dir~2/2` (default: the build's own ingest suite's measured topology;
// builds before 2026-12-02 ran 2 of each and ignore it).
//   node --import tsx bench/ingest-ab.ts <rounds> <build dir>[~R/C][@NODE_OPTIONS][#locale] ...
import { join } from 'node:path'
import pg from 'pg'
import { loadConfig } from '../src/config/index.js'
import { createDatabaseSql, useDatabase } from '../src/db/index.js'

const WARMUP_S = 20
const WINDOW_S = 15

interface Run {
  samplesPerSecond: number
  offeredPerSecond: number
  depthStart: number
  depthEnd: number
  p99: number
}

/** A build dir, optionally with NODE_OPTIONS for its run after an @ and a database locale after a #. */
async function runOnce(spec: string, base: string): Promise<Run> {
  const hash = spec.lastIndexOf('#')
  const variant = hash < 0 ? spec : spec.slice(0, hash)
  const locale = hash < 0 ? undefined : spec.slice(hash + 1)
  const at = variant.indexOf('@')
  const dir = at < 0 ? variant : variant.slice(0, at)
  const tilde = dir.indexOf('~')
  const build = tilde < 0 ? dir : dir.slice(0, tilde)
  let topology: { readers: number; collectors: number } | undefined
  if (tilde >= 0) {
    const m = /^(\d+)\/(\d+)$/.exec(dir.slice(tilde + 1))
    if (!m) throw new Error(`not readers/collectors: ${dir.slice(tilde + 1)}`)
    topology = { readers: Number(m[1]), collectors: Number(m[2]) }
  }
  const before = process.env.NODE_OPTIONS
  if (at >= 0) process.env.NODE_OPTIONS = variant.slice(at + 1)
  try {
    return await runBuild(build, base, locale, topology)
  } finally {
    if (before === undefined) delete process.env.NODE_OPTIONS
    else process.env.NODE_OPTIONS = before
  }
}

async function runBuild(build: string, base: string, locale?: string, topology?: { readers: number; collectors: number }): Promise<Run> {
  const admin = new pg.Client({ connectionString: base })
  await admin.connect()
  try {
    await admin.query('DROP DATABASE IF EXISTS tpipe_ingest_ab WITH (FORCE)')
    await admin.query(createDatabaseSql('tpipe_ingest_ab', locale === undefined ? undefined : { collate: locale, ctype: locale }))
  } finally {
    await admin.end()
  }
  const u = new URL(base)
  u.pathname = '/tpipe_ingest_ab'
  // The build's own modules: its migrations, its services (its bench/proc.ts finds its dist/).
  const db = (await import(join(build, 'src/db/index.js'))) as typeof import('../src/db/index.js')
  const ingest = (await import(join(build, 'bench/suites/ingest.js'))) as typeof import('./suites/ingest.js')
  await db.migrate(u.toString(), 'up')
  const pool = db.createPool(u.toString(), { max: 8, applicationName: 'tpipe-bench' })
  try {
    const ctx = { pool, databaseUrl: u.toString(), opts: { suites: [], durationS: WINDOW_S, runs: 1, outDir: '/tmp' }, figures: new Map(), log: () => {} }
    return await ingest.remoteWriteOnce(ctx as never, WARMUP_S, WINDOW_S, topology)
  } finally {
    await pool.end()
  }
}

async function main(): Promise<void> {
  const [roundsArg, ...builds] = process.argv.slice(2)
  const rounds = Number(roundsArg)
  if (!(rounds > 0) || builds.length < 2) throw new Error('usage: ingest-ab.ts <rounds> <build dir> <build dir> ...')
  const database = await useDatabase(loadConfig({}, process.env), (m) => process.stderr.write(`${m}\n`))
  const sums = new Map<string, number>(builds.map((b) => [b, 0]))
  try {
    for (let r = 0; r < rounds; r++) {
      for (const build of r % 2 === 0 ? builds : [...builds].reverse()) {
        const run = await runOnce(build, database.url)
        sums.set(build, sums.get(build)! + run.samplesPerSecond)
        const f = (n: number) => Math.round(n).toLocaleString('en-US')
        process.stderr.write(
          `round ${r + 1} ${build}: ${f(run.samplesPerSecond)} samples/s into telemetry (offered ${f(run.offeredPerSecond)}/s), depth ${f(run.depthStart)} → ${f(run.depthEnd)}, p99 ${run.p99} ms\n`,
        )
      }
    }
  } finally {
    await database.release()
  }
  process.stdout.write(`${JSON.stringify(Object.fromEntries([...sums].map(([b, s]) => [b, Math.round(s)])))}\n`)
}

await main()
