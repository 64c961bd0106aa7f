// e2e: `tpipe dev` topologies at full speed (the same Supervisor), measured at steady state:
// messages/s into telemetry, the queue depth at the start and end of the window (growing = the
// consumers cannot keep up), and publish → queryable latency from probe messages: a probe is
// published to mqwriter every 50 ms with its own GPU key and its time; a poller reads telemetry for
// that key every 10 ms, so latency = first seen in telemetry − publish time.
import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { Supervisor } from '../../src/local/supervisor.js'
import { DEFAULT_CSV } from '../../src/local/dev.js'
import type { Context, Row } from '../context.js'
import { fmt, fmtFigure, figure, percentile, ratio } from '../stats.js'

export interface E2ETopology {
  name: string
  streamers: number
  writers: number
  readers: number
  collectors: number
}

export const TOPOLOGIES: E2ETopology[] = [
  { name: 'balanced 1/1/2/2', streamers: 1, writers: 1, readers: 2, collectors: 2 },
  { name: 'balanced 2/2/2/4', streamers: 2, writers: 2, readers: 2, collectors: 4 },
  { name: 'producer-heavy 4/2/1/1', streamers: 4, writers: 2, readers: 1, collectors: 1 },
  { name: 'consumer-heavy 1/1/4/4', streamers: 1, writers: 1, readers: 4, collectors: 4 },
]

export interface E2EResult {
  messagesPerSecond: number
  depthStart: number
  depthEnd: number
  p50: number
  p99: number
  probes: number
  probesSeen: number
}

/** Rows of a table now (the suites' throughput and queue-depth readings). */
export async function count(ctx: Context, table: string): Promise<number> {
  return Number((await ctx.pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n)
}

/** A `tpipe dev` supervisor for a benchmark: the topology given, no apigw, full speed, quiet logs, its own home. */
export function benchSupervisor(
  ctx: Context,
  name: string,
  t: { streamers: number; writers: number; readers: number; collectors: number },
  env: Record<string, string> = {},
): Supervisor {
  const home = join(tmpdir(), `tpipe-bench-${name}-${process.pid}`)
  mkdirSync(home, { recursive: true })
  return new Supervisor({ ...t, apigws: 0, databaseUrl: ctx.databaseUrl, home, csv: DEFAULT_CSV, rate: 0, loops: 0, apigwPort: 0, env: { TPIPE_LOG_LEVEL: 'warn', ...env } })
}

export async function e2eOnce(ctx: Context, t: E2ETopology, warmupS: number, measureS: number): Promise<E2EResult> {
  await ctx.pool.query('TRUNCATE queue_messages, telemetry')
  const sup = benchSupervisor(ctx, 'e2e', t, { TPIPE_STREAMER_WRITE_BACK: 'false' })
  try {
    await sup.start()
    await new Promise((r) => setTimeout(r, warmupS * 1000))
    const writer = sup.list('mqwriter')[0]!.url
    const probeKey = `GPU-probe-${randomUUID()}`
    const sent = new Map<string, number>()
    const latencies: number[] = []
    let stop = false
    let stopAt = Infinity
    const prober = (async () => {
      while (!stop) {
        const id = randomUUID()
        const t0 = Date.now()
        const payload = {
          ts: new Date(t0).toISOString(),
          metric_name: 'DCGM_FI_DEV_GPU_UTIL',
          gpu_id: 0,
          device: 'nvidia0',
          gpu_uuid: probeKey,
          model_name: 'probe',
          hostname: 'probe',
          container: null,
          pod: null,
          namespace: null,
          value: 0,
          labels: null,
        }
        const r = await fetch(`${writer}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: probeKey, payload, id }) }).catch(() => undefined)
        await r?.body?.cancel()
        if (r?.status === 201) sent.set(id, t0)
        await new Promise((res) => setTimeout(res, 50))
      }
    })()
    const poller = (async () => {
      while (!stop || sent.size > 0) {
        if (sent.size > 0) {
          const r = await ctx.pool.query<{ msg_uuid: string }>('SELECT msg_uuid FROM telemetry WHERE gpu_uuid = $1 AND msg_uuid = ANY($2::uuid[])', [probeKey, [...sent.keys()]])
          const now = Date.now()
          for (const row of r.rows) {
            latencies.push(now - sent.get(row.msg_uuid)!)
            sent.delete(row.msg_uuid)
          }
        }
        if (stop && Date.now() > stopAt + 10_000) break
        await new Promise((res) => setTimeout(res, 10))
      }
    })()
    const depthStart = await count(ctx, 'queue_messages')
    const telStart = await count(ctx, 'telemetry')
    const t0 = Date.now()
    await new Promise((r) => setTimeout(r, measureS * 1000))
    const telEnd = await count(ctx, 'telemetry')
    const seconds = (Date.now() - t0) / 1000
    const depthEnd = await count(ctx, 'queue_messages')
    stop = true
    stopAt = Date.now()
    await prober
    await poller
    latencies.sort((a, b) => a - b)
    return {
      messagesPerSecond: (telEnd - telStart) / seconds,
      depthStart,
      depthEnd,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      probes: latencies.length + sent.size,
      probesSeen: latencies.length,
    }
  } finally {
    await sup.stop()
  }
}

export async function e2eSuite(ctx: Context): Promise<Row[]> {
  const rows: Row[] = []
  const hello = ctx.figures.get('ceilings.hello.rps')
  for (const t of ctx.opts.smoke ? TOPOLOGIES.slice(0, 1) : TOPOLOGIES) {
    const results: E2EResult[] = []
    for (let i = 0; i < ctx.opts.runs; i++) {
      const r = await e2eOnce(ctx, t, ctx.opts.smoke ? 1 : 5, ctx.opts.durationS)
      results.push(r)
      ctx.log(
        `  e2e ${t.name} run ${i + 1}/${ctx.opts.runs}: ${fmt(r.messagesPerSecond)} msg/s, depth ${fmt(r.depthStart)} → ${fmt(r.depthEnd)}, p50 ${r.p50} ms, p99 ${r.p99} ms (${r.probesSeen}/${r.probes} probes)`,
      )
    }
    const mps = figure(results.map((r) => r.messagesPerSecond))
    const p50 = figure(results.map((r) => r.p50))
    const p99 = figure(results.map((r) => r.p99))
    ctx.figures.set(`e2e.${t.name}`, mps)
    ctx.figures.set(`e2e.${t.name}.p99`, p99)
    const mid = results.find((r) => r.messagesPerSecond === mps.median) ?? results[0]!
    rows.push({
      figure: `e2e ${t.name} (streamers/writers/readers/collectors), msg/s into telemetry`,
      value: fmtFigure(mps),
      ...(hello ? { ratio: `${ratio(mps.median, hello.median)} of hello-world` } : {}),
      target: t.name.startsWith('balanced') ? '>= 5,000 msg/s' : '',
    })
    rows.push({ figure: `  queue depth start → end (median run)`, value: `${fmt(mid.depthStart)} → ${fmt(mid.depthEnd)}`, target: t.name.startsWith('balanced') ? 'not growing' : '' })
    rows.push({ figure: `  publish → queryable p50 / p99, ms`, value: `${fmt(p50.median)} / ${fmt(p99.median)} (p99 ${fmt(p99.min)}–${fmt(p99.max)})`, target: t.name.startsWith('balanced') ? 'p99 < 1,000 ms' : '' })
  }
  return rows
}
