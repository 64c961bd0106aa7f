// Interleaved A/B of apigw builds on the api suite's kept fleet (database tpipe_bench_fleet: run `npm run
// bench -- api` once to make it): each build's `tpipe serve apigw` in turn on the same database, the
// suite's request paths, 4 keep-alive connections × 5 s (autocannon, bench/load.ts), the order of the
// builds alternating every round. Besides req/s and latency, the CPU each answer cost, from /proc: the
// apigw's, and the apigw's plus every postgres process's. A build is a directory holding a built checkout
// (`git worktree add /tmp/x <commit> && cd /tmp/x && npm ci && npm run build`).
//   node --import tsx bench/apigw-ab.ts <rounds> <query: page|fleet|gpus|day|month|all> <build dir> <build dir> ...
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { benchModule } from './proc.js'
import type { LoadResult } from './suites/ceilings.js'
import { apiQueries, keptFleetClient, keptFleetStart } from './suites/api.js'

const KINDS: Record<string, number> = { gpus: 0, page: 1, day: 2, month: 3, fleet: 4 }
const TICK_MS = 1000 / 100 // USER_HZ

function cpuTicks(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return Number(f[11]) + Number(f[12]) // utime + stime
  } catch {
    return 0 // gone
  }
}
const postgresPids = () =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/comm`, 'utf8').startsWith('postgres')
      } catch {
        return false
      }
    })
    .map(Number)

async function main(): Promise<void> {
  const [roundsArg, kind, ...builds] = process.argv.slice(2)
  if (!roundsArg || !kind || builds.length === 0 || (kind !== 'all' && !(kind in KINDS))) throw new Error('usage: apigw-ab.ts <rounds> <page|fleet|gpus|day|month|all> <build dir>...')
  const fleet = await keptFleetClient()
  const gpus = (await fleet.client.query<{ g: string }>('SELECT gpu_uuid AS g FROM gpus ORDER BY gpu_uuid')).rows.map((r) => r.g)
  const u = new URL(fleet.url)
  if (gpus.length === 0) throw new Error('tpipe_bench_fleet has no GPUs: run `npm run bench -- api` first')
  const all = apiQueries(gpus, keptFleetStart())
  const queries = kind === 'all' ? all : [all[KINDS[kind]!]!]
  const totals: Record<string, { requests: number; p99: number[]; cpuMs: number[]; apigwCpuMs: number[] }> = {}
  try {
    for (let r = 0; r < Number(roundsArg); r++) {
      for (const [b, build] of (r % 2 ? [...builds.entries()].reverse() : [...builds.entries()])) {
        const port = 18_400 + b
        const url = `http://127.0.0.1:${port}`
        const apigw = spawn(process.execPath, [join(build, 'bin', 'run.js'), 'serve', 'apigw', '--port', String(port), '--host', '127.0.0.1'], {
          env: { ...process.env, NODE_ENV: 'production', TPIPE_LOG_LEVEL: 'warn', TPIPE_DATABASE_URL: u.toString() },
          stdio: ['ignore', 'ignore', 'inherit'],
        })
        try {
          for (let i = 0; i < 100; i++) {
            if (await fetch(`${url}/healthz`).then((x) => x.ok, () => false)) break
            await new Promise((s) => setTimeout(s, 200))
          }
          for (const q of queries) {
            // Warm-up as the suite's: the pool's connections opened and the statements prepared before the count starts.
            for (let w = 0; w < 5; w++) await Promise.all(q.paths.slice(w * 8, w * 8 + 8).map(async (p) => (await fetch(`${url}${p}`)).text()))
            const pids = postgresPids()
            const apigw0 = cpuTicks(apigw.pid!)
            const pg0 = pids.reduce((s, p) => s + cpuTicks(p), 0)
            const load = spawn(process.execPath, [...benchModule('load.ts'), JSON.stringify({ url, connections: 4, durationS: 5, mode: 'get', paths: q.paths })], { stdio: ['ignore', 'pipe', 'inherit'] })
            let out = ''
            load.stdout.on('data', (d: Buffer) => (out += d.toString()))
            await once(load, 'exit')
            const res = JSON.parse(out.trim().split('\n').at(-1)!) as LoadResult
            const apigwMs = ((cpuTicks(apigw.pid!) - apigw0) * TICK_MS) / res.total
            const cpuMs = apigwMs + ((pids.reduce((s, p) => s + cpuTicks(p), 0) - pg0) * TICK_MS) / res.total
            const key = `${q.label} @ ${build}`
            const t = (totals[key] ??= { requests: 0, p99: [], cpuMs: [], apigwCpuMs: [] })
            t.requests += res.total
            t.p99.push(res.latencyP99)
            t.cpuMs.push(Math.round(cpuMs * 100) / 100)
            t.apigwCpuMs.push(Math.round(apigwMs * 100) / 100)
            process.stderr.write(`round ${r + 1} ${key}: ${Math.round(res.requestsPerSecond)} req/s, p50 ${res.latencyP50} ms, p99 ${res.latencyP99} ms, CPU ${cpuMs.toFixed(2)} ms an answer (apigw ${apigwMs.toFixed(2)})\n`)
          }
        } finally {
          apigw.kill('SIGTERM')
          await once(apigw, 'exit')
        }
      }
    }
    process.stdout.write(JSON.stringify(totals) + '\n')
  } finally {
    await fleet.release()
  }
}

void main()
