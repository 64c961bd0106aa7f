// The streamer against a real in-process mqwriter on a real test database.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs'
import { createServer, request as httpRequest, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSampleCsv } from '../../scripts/generate-sample-csv.js'
import { loadConfig } from '../config/index.js'
import { metricValue } from '../metrics/index.js'
import { buildMqwriter, type MqwriterApp } from '../mqwriter/app.js'
import { checkTelemetryPayload } from '../telemetry/payload.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { buildStreamer } from './app.js'
import { MissingColumnError } from '../telemetry/csv.js'
import type { WriteBackFs } from './writeback.js'
import { nodeFs } from './writeback.js'

const REAL_CSV = join(process.cwd(), '..', 'shared', 'data', 'dcgm_metrics_20250718_134233.csv')
const silent = pino({ level: 'silent' })

let db: TestDatabase
let mq: MqwriterApp
let mqUrl: string
let dir: string

async function startMqwriter(env: Record<string, string> = {}): Promise<{ mq: MqwriterApp; url: string }> {
  const m = buildMqwriter(loadConfig({}, { TPIPE_DEFAULT_METRICS: 'false', ...env }, 'mqwriter'), { pool: db.pool, logger: silent })
  const address = await m.app.listen({ host: '127.0.0.1', port: 0 })
  return { mq: m, url: address }
}

function streamerConfig(csv: string, mqwriter: string, flags: Record<string, string> = {}) {
  return loadConfig({ csv, mqwriter, loops: '1', 'default-metrics': 'false', 'write-back': 'false', ...flags }, {}, 'streamer')
}

async function stream(csv: string, flags: Record<string, string> = {}, url = mqUrl, fs?: WriteBackFs) {
  const s = buildStreamer(streamerConfig(csv, url, flags), { logger: silent, ...(fs ? { fs } : {}) })
  try {
    const result = await s.run()
    return { result, published: await metricValue(s.registry, 'streamer_messages_published_total'), retries: await metricValue(s.registry, 'streamer_publish_retries_total'), skipped: await metricValue(s.registry, 'streamer_rows_skipped_total') }
  } finally {
    await s.app.close()
  }
}

async function queueCount(): Promise<number> {
  return Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM queue_messages')).rows[0]!.n)
}

beforeAll(async () => {
  db = await createTestDatabase()
  ;({ mq, url: mqUrl } = await startMqwriter())
  dir = mkdtempSync(join(tmpdir(), 'tpipe-streamer-'))
})

afterAll(async () => {
  await mq?.app.close()
  rmSync(dir, { recursive: true, force: true })
  await db?.drop()
})

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex')

describe('the real DCGM export', () => {
  it('publishes all 2470 rows once with --loops 1, as the shared payload shape keyed by GPU uuid, and logs every ack', async () => {
    await db.pool.query('TRUNCATE queue_messages')
    const before = sha(REAL_CSV)
    const ackLog = join(dir, 'acked.txt')
    // write-back stays off: the shared export is not ours to rewrite (root could).
    const r = await stream(REAL_CSV, { 'ack-log': ackLog })
    expect(r.result.sent).toBe(2470)
    expect(r.published).toBe(2470)
    expect(r.skipped).toBe(0)
    expect(await queueCount()).toBe(2470)
    expect(sha(REAL_CSV)).toBe(before)

    const rows = (await db.pool.query<{ msg_uuid: string; key: string; payload: Record<string, unknown> }>('SELECT msg_uuid, key, payload FROM queue_messages')).rows
    for (const row of rows) {
      expect(checkTelemetryPayload(row.payload)).toBeUndefined()
      expect(row.key).toBe(row.payload.gpu_uuid)
    }
    expect(new Set(rows.map((r) => r.payload.gpu_uuid)).size).toBe(247)
    const first = rows.find((r) => r.payload.gpu_uuid === 'GPU-5fd4f087-86f3-7a43-b711-4771313afc50' && r.payload.metric_name === 'DCGM_FI_DEV_GPU_UTIL')!
    expect(first.payload).toMatchObject({ gpu_id: 0, device: 'nvidia0', hostname: 'mtv5-dgx1-hgpu-031', model_name: 'NVIDIA H100 80GB HBM3', container: null, value: 0 })
    expect((first.payload.labels as Record<string, string>).job).toBe('dgx_dcgm_exporter')
    // Re-stamped with now, not the export's 2025 time.
    expect(Date.now() - Date.parse(first.payload.ts as string)).toBeLessThan(10 * 60_000)

    const acked = readFileSync(ackLog, 'utf8').trim().split('\n')
    expect(acked).toHaveLength(2470)
    expect(new Set(acked)).toEqual(new Set(rows.map((r) => r.msg_uuid)))
  })

  it('streams a gzipped export (the chart’s binaryData .csv.gz) the same, read-only even with write-back asked (issue 12 defect 10)', async () => {
    await db.pool.query('TRUNCATE queue_messages')
    const gz = join(dir, 'export.csv.gz')
    writeFileSync(gz, gzipSync(readFileSync(REAL_CSV)))
    const before = sha(gz)
    const r = await stream(gz, { 'write-back': 'true' })
    expect(r.result.sent).toBe(2470)
    expect(r.skipped).toBe(0)
    expect(r.result.writeBack).toBe(false)
    expect(await queueCount()).toBe(2470)
    const gpus = await db.pool.query<{ n: string }>("SELECT count(DISTINCT payload->>'gpu_uuid') AS n FROM queue_messages")
    expect(Number(gpus.rows[0]!.n)).toBe(247)
    expect(sha(gz)).toBe(before)
  })

  it('sends each row with its own timestamp with --keep-timestamps (a historical export), and leaves the file alone', async () => {
    await db.pool.query('TRUNCATE queue_messages')
    const copy = join(dir, 'historical.csv')
    writeFileSync(copy, readFileSync(REAL_CSV))
    const before = sha(copy)
    // write-back asked for, but keeping the timestamps implies none: the file is a record, not a loop.
    const r = await stream(copy, { 'keep-timestamps': 'true', 'write-back': 'true' })
    expect([r.result.sent, r.skipped, r.result.writeBack]).toEqual([2470, 0, false])
    expect(sha(copy)).toBe(before)
    // Every (uuid, metric) carries exactly the timestamp its CSV row has.
    const want = new Map<string, string>()
    for (const line of readFileSync(REAL_CSV, 'utf8').trim().split('\n').slice(1)) {
      const f = line.slice(1).split('","')
      want.set(`${f[4]} ${f[1]}`, new Date(f[0]!).toISOString())
    }
    const rows = (await db.pool.query<{ payload: { gpu_uuid: string; metric_name: string; ts: string } }>('SELECT payload FROM queue_messages')).rows
    expect(rows).toHaveLength(2470)
    for (const { payload } of rows) expect(payload.ts, `${payload.gpu_uuid} ${payload.metric_name}`).toBe(want.get(`${payload.gpu_uuid} ${payload.metric_name}`))
    expect(new Set(rows.map((x) => x.payload.ts))).toEqual(new Set(want.values()))
    expect([...new Set(want.values())].every((t) => t.startsWith('2025-07-18T'))).toBe(true)

    // A row whose timestamp is not a time is skipped as bad (counted, with its reason), not re-stamped.
    const lines = readFileSync(REAL_CSV, 'utf8').trim().split('\n')
    const bad = join(dir, 'bad-ts.csv')
    writeFileSync(bad, [lines[0], lines[1], lines[2]!.replace(/^"[^"]*"/, '"yesterday"'), lines[3]].join('\n') + '\n')
    await db.pool.query('TRUNCATE queue_messages')
    const b = await stream(bad, { 'keep-timestamps': 'true' })
    expect([b.result.sent, b.skipped]).toEqual([2, 1])
    expect(b.result.skippedLines).toEqual([3])
  })

  it('splits the rows between replicas with --shard i/n', async () => {
    await db.pool.query('TRUNCATE queue_messages')
    const [a, b, c] = await Promise.all(['0/3', '1/3', '2/3'].map((shard) => stream(REAL_CSV, { shard })))
    expect(a!.result.sent + b!.result.sent + c!.result.sent).toBe(2470)
    expect(a!.result.sent).toBeGreaterThan(800)
    const distinct = await db.pool.query<{ n: string }>("SELECT count(DISTINCT (payload->>'gpu_uuid', payload->>'metric_name')) AS n FROM queue_messages")
    expect(Number(distinct.rows[0]!.n)).toBe(2470)
  })
})

// A variant of the sample: BOM, CRLF, model_name, reordered and extra columns, and bad rows.
function variant(opts: { unparsable?: boolean } = {}): { text: string; good: number; badLines: number[] } {
  const lines = generateSampleCsv({ hosts: 2, scrapes: 1 }).trim().split('\n')
  const header = lines[0]!.split(',')
  // Reorder: value first, uuid last; rename modelName → model_name, Hostname → host; add an extra column.
  const order = [10, 1, 2, 3, 0, 5, 6, 7, 8, 9, 11, 4]
  const names = order.map((i) => header[i]!).map((h) => (h === 'modelName' ? 'model_name' : h === 'Hostname' ? 'HOST' : h))
  const parse = (l: string) => l.slice(1, -1).split('","').map((f) => f.replace(/""/g, '"'))
  const rows = lines.slice(1).map((l) => {
    const f = parse(l)
    return [...order.map((i) => f[i]!), 'extra']
  })
  const out = [[...names, 'Scrape Source'].join(',')]
  for (const r of rows) out.push(r.map((v) => `"${v.replace(/"/g, '""')}"`).join(','))
  const badLines: number[] = []
  const put = (at: number, line: string) => {
    out.splice(at, 0, line)
  }
  // line numbers are 1-based; line 1 is the header
  put(5, out[4]!.replace(/^"[^"]*"/, '"n/a"')) // non-numeric value
  put(9, out[8]!.replace(/"GPU-[^"]*","extra"$/, '"","extra"')) // empty uuid
  put(14, '"1","DCGM_FI_DEV_GPU_UTIL","0"') // wrong field count
  badLines.push(6, 10, 15)
  if (opts.unparsable) {
    put(20, '"1","x"y","oops"') // broken quoting: the parser itself skips it
    badLines.push(21)
  }
  return { text: '\uFEFF' + out.join('\r\n') + '\r\n', good: rows.length, badLines }
}

describe('rate and several mqwriters', () => {
  it('spreads publishes over every mqwriter URL and keeps to --rate (lower bound only: a slow machine is never too fast)', async () => {
    await db.pool.query('TRUNCATE queue_messages')
    const second = await startMqwriter()
    try {
      const file = join(dir, 'rate.csv')
      writeFileSync(file, generateSampleCsv({ hosts: 1, scrapes: 1 }))
      const started = performance.now()
      const r = await stream(file, { rate: '100' }, `${mqUrl},${second.url}`)
      const seconds = (performance.now() - started) / 1000
      expect(r.published).toBe(80)
      expect(seconds).toBeGreaterThanOrEqual(0.65) // 80 rows at 100/s, minus the 100 ms start allowance
      expect(await metricValue(second.mq.registry, 'mqwriter_messages_published_total')).toBeGreaterThan(0)
      expect(await metricValue(mq.registry, 'mqwriter_messages_published_total')).toBeGreaterThan(0)
      expect(await queueCount()).toBe(80)
    } finally {
      await second.mq.app.close()
    }
  })
})

describe('CSV variants and write-back', () => {
  it('publishes exactly the good rows, counts the bad ones with their line numbers, and writes the new timestamps back', async () => {
    await db.pool.query('TRUNCATE queue_messages')
    const v = variant()
    const file = join(dir, 'variant.csv')
    writeFileSync(file, v.text)
    const r = await stream(file, { 'write-back': 'true' })
    expect(r.result.sent).toBe(v.good)
    expect(r.skipped).toBe(3)
    expect(r.result.skippedLines).toEqual(v.badLines)
    expect(await queueCount()).toBe(v.good)
    const sample = (await db.pool.query<{ payload: Record<string, unknown> }>('SELECT payload FROM queue_messages LIMIT 1')).rows[0]!.payload
    expect(sample.model_name).toBe('NVIDIA H100 80GB HBM3')
    expect(sample.hostname).toMatch(/^tpipe-dgx-00\d$/)

    // Write-back: same rows (bad ones kept), BOM and CRLF kept, the good rows carry the emitted times.
    expect(r.result.writeBack).toBe(true)
    const after = readFileSync(file, 'utf8')
    expect(after.startsWith('\uFEFF')).toBe(true)
    const afterLines = after.split('\r\n').filter((l) => l !== '')
    expect(afterLines).toHaveLength(v.text.split('\r\n').filter((l) => l !== '').length)
    // Bad rows keep their old time (two of the three had one); every good row carries its emission time.
    expect(afterLines.filter((l) => l.includes('2025-07-18T20:42:34Z'))).toHaveLength(2)
    const stamped = afterLines.map((l) => /"(\d{4}-\d\d-\d\dT[\d:.]+Z)"/.exec(l)?.[1]).filter((t) => t !== undefined && Date.now() - Date.parse(t) < 10 * 60_000)
    expect(stamped).toHaveLength(v.good)
    expect(readdirTemp()).toEqual([])

    // Second pass over the rewritten file sends the same good rows again.
    const again = await stream(file)
    expect(again.result.sent).toBe(v.good)
  })

  it('counts rows the parser cannot read, keeps streaming, and leaves the file alone for that pass', async () => {
    await db.pool.query('TRUNCATE queue_messages')
    const v = variant({ unparsable: true })
    const file = join(dir, 'unparsable.csv')
    writeFileSync(file, v.text)
    const r = await stream(file, { 'write-back': 'true' })
    expect(r.result.sent).toBe(v.good)
    expect(r.skipped).toBe(4)
    expect([...r.result.skippedLines].sort((a, b) => a - b)).toEqual(v.badLines)
    expect(readFileSync(file, 'utf8')).toBe(v.text)
  })

  it('stops with an error naming a missing required column and the headers found', async () => {
    const file = join(dir, 'nouuid.csv')
    writeFileSync(file, 'timestamp,metric_name,gpu_id,Hostname,value\n"t","m","0","h","1"\n')
    const s = buildStreamer(streamerConfig(file, mqUrl), { logger: silent })
    await expect(s.run()).rejects.toThrow(MissingColumnError)
    await expect(s.run()).rejects.toThrow(/no gpu_uuid column.*headers found: timestamp, metric_name, gpu_id, Hostname, value/)
    await s.app.close()
  })

  // Root ignores file modes, so chmod 0444 proves nothing here. An immutable directory (chattr +i, ext4)
  // refuses new files and renames even to root: the real read-only case.
  const canChattr = (() => {
    const probe = mkdtempSync(join(tmpdir(), 'tpipe-chattr-'))
    try {
      execFileSync('chattr', ['+i', probe], { stdio: 'ignore' })
      execFileSync('chattr', ['-i', probe], { stdio: 'ignore' })
      return true
    } catch {
      return false
    } finally {
      rmSync(probe, { recursive: true, force: true })
    }
  })()

  it.runIf(canChattr)('skips write-back in a read-only (immutable) directory and streams every row anyway', async () => {
    await db.pool.query('TRUNCATE queue_messages')
    const roDir = mkdtempSync(join(dir, 'ro-'))
    const file = join(roDir, 'data.csv')
    const text = generateSampleCsv({ hosts: 1, scrapes: 1 })
    writeFileSync(file, text)
    execFileSync('chattr', ['+i', roDir])
    try {
      expect(() => writeFileSync(join(roDir, 'probe'), 'x')).toThrow()
      const r = await stream(file, { 'write-back': 'true' })
      expect(r.result.sent).toBe(80)
      expect(r.result.writeBack).toBe(false)
      expect(await queueCount()).toBe(80)
      expect(readFileSync(file, 'utf8')).toBe(text)
    } finally {
      execFileSync('chattr', ['-i', roDir])
    }
  })

  it('skips write-back when the file system answers EROFS (injected seam) and streams every row anyway', async () => {
    await db.pool.query('TRUNCATE queue_messages')
    const file = join(dir, 'erofs.csv')
    const text = generateSampleCsv({ hosts: 1, scrapes: 1 })
    writeFileSync(file, text)
    const mtime = statSync(file).mtimeMs
    const erofs = Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' })
    const fs: WriteBackFs = { ...nodeFs, open: () => Promise.reject(erofs) }
    const r = await stream(file, { 'write-back': 'true', loops: '2' }, mqUrl, fs)
    expect(r.result.sent).toBe(160)
    expect(r.result.writeBack).toBe(false)
    expect(statSync(file).mtimeMs).toBe(mtime)
  })
})

function readdirTemp(): string[] {
  return execFileSync('ls', ['-A', dir], { encoding: 'utf8' }).split('\n').filter((f) => f.includes('tpipe-tmp'))
}

describe('retries', () => {
  it('retries a publish whose answer was lost with the same id: no second row', async () => {
    await db.pool.query('TRUNCATE queue_messages')
    // A proxy that forwards every request but, for the first 25, drops the connection instead of answering.
    let dropped = 0
    const target = new URL(mqUrl)
    const proxy: Server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const up = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (upRes) => {
          const body: Buffer[] = []
          upRes.on('data', (c: Buffer) => body.push(c))
          upRes.on('end', () => {
            if (upRes.statusCode === 201 && dropped < 25) {
              dropped++
              req.socket.destroy()
              return
            }
            res.writeHead(upRes.statusCode ?? 502, upRes.headers).end(Buffer.concat(body))
          })
        })
        up.end(Buffer.concat(chunks))
      })
    })
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r))
    const port = (proxy.address() as { port: number }).port
    try {
      const file = join(dir, 'retry.csv')
      writeFileSync(file, generateSampleCsv({ hosts: 2, scrapes: 1 }))
      const ackLog = join(dir, 'retry-acks.txt')
      const r = await stream(file, { 'ack-log': ackLog, 'in-flight': '8' }, `http://127.0.0.1:${port}`)
      expect(dropped).toBe(25)
      expect(r.retries).toBeGreaterThanOrEqual(25)
      expect(r.published).toBe(160)
      expect(await queueCount()).toBe(160)
      const acked = readFileSync(ackLog, 'utf8').trim().split('\n')
      expect(new Set(acked).size).toBe(160)
    } finally {
      proxy.closeAllConnections()
      await new Promise((r) => proxy.close(r))
    }
  })

  it('honours 429 backpressure from a tiny buffer and still publishes every row', async () => {
    await db.pool.query('TRUNCATE queue_messages')
    const tiny = await startMqwriter({ TPIPE_WRITER_BUFFER_CAPACITY: '2', TPIPE_WRITER_RETRY_AFTER_SECONDS: '0', TPIPE_WRITER_FLUSH_INTERVAL_MS: '20' })
    try {
      const file = join(dir, 'busy.csv')
      writeFileSync(file, generateSampleCsv({ hosts: 2, scrapes: 1 }))
      const r = await stream(file, { 'in-flight': '16', 'max-backoff-ms': '50' }, tiny.url)
      expect(r.retries).toBeGreaterThan(0)
      expect(r.published).toBe(160)
      expect(await queueCount()).toBe(160)
      expect(await metricValue(tiny.mq.registry, 'mqwriter_publish_rejected_total', { reason: 'buffer_full' })).toBeGreaterThan(0)
    } finally {
      await tiny.mq.app.close()
    }
  })

  it('waits out a refused connection (mqwriter not up yet) and publishes once it listens', async () => {
    await db.pool.query('TRUNCATE queue_messages')
    // Reserve a port, free it, start the streamer against it, then start mqwriter there.
    const probe = createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const port = (probe.address() as { port: number }).port
    await new Promise((r) => probe.close(r))
    const file = join(dir, 'late.csv')
    writeFileSync(file, generateSampleCsv({ hosts: 1, scrapes: 1 }))
    const s = buildStreamer(streamerConfig(file, `http://127.0.0.1:${port}`, { 'max-backoff-ms': '200' }), { logger: silent })
    const done = s.run()
    await expect.poll(() => metricValue(s.registry, 'streamer_publish_retries_total', { reason: 'connection' }), { timeout: 20_000 }).toBeGreaterThan(0)
    const late = buildMqwriter(loadConfig({}, { TPIPE_DEFAULT_METRICS: 'false' }, 'mqwriter'), { pool: db.pool, logger: silent })
    await late.app.listen({ host: '127.0.0.1', port })
    try {
      const result = await done
      expect(result.sent).toBe(80)
      expect(await metricValue(s.registry, 'streamer_messages_published_total')).toBe(80)
      expect(await queueCount()).toBe(80)
    } finally {
      await s.app.close()
      await late.app.close()
    }
  })
})
