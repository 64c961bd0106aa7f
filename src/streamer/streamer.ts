import { createReadStream, promises as fsp } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { createGunzip } from 'node:zlib'
import { parse } from 'csv-parse'
import type { Logger } from 'pino'
import type { Shard } from '../config/settings/streamer.js'
import { csvLine, mapColumns, toPayload, type ColumnMap } from '../telemetry/csv.js'
import type { Publisher } from './publisher.js'
import { FileChangedError, PassWriter, nodeFs, writeBackRefusal, type FileStat, type WriteBackFs } from './writeback.js'

export interface StreamerOptions {
  csv: string
  /** 0 = forever. */
  loops: number
  /** Messages/s; 0 = unlimited. */
  rate: number
  shard: Shard
  writeBack: boolean
  /** Send the CSV's own timestamps (a historical export) instead of the time of sending. */
  keepTimestamps?: boolean
  log: Logger
  publisher: Publisher
  fs?: WriteBackFs
  onSkipped?: (n: number) => void
  onPass?: () => void
}

export interface StreamResult {
  passes: number
  /** Rows handed to the publisher (each is answered 201, rejected, or given up on stop). */
  sent: number
  skipped: number
  /** Line numbers of the bad rows seen in the first pass (at most 1000). */
  skippedLines: number[]
  writeBack: boolean
}

/**
 * A `.gz` CSV (the chart ships big exports gzipped in a ConfigMap's binaryData: the plain 1.1 MB export
 * would not fit its 1 MiB limit) is decompressed as it streams, and never written back.
 */
export function isGzipped(file: string): boolean {
  return /\.gz$/i.test(file)
}

/** Peeks at the start of the file for the line ending and BOM, so write-back keeps them. */
async function fileStyle(file: string): Promise<{ eol: string; bom: string }> {
  const fh = await fsp.open(file, 'r')
  try {
    const buf = Buffer.alloc(64 * 1024)
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0)
    const head = buf.subarray(0, bytesRead).toString('utf8')
    return { eol: head.includes('\r\n') ? '\r\n' : '\n', bom: head.startsWith('\uFEFF') ? '\uFEFF' : '' }
  } finally {
    await fh.close()
  }
}

/**
 * Streams the CSV (csv-parse, never the whole file in memory) row by row into the publisher, pass
 * after pass. Each emitted row is stamped with the current UTC time; those timestamps are written
 * back once per pass when possible. Bad rows are counted and logged with their line number (first
 * pass only, so an endless loop does not repeat the same lines), never fatal. A missing required
 * column is fatal: the returned promise rejects with MissingColumnError.
 */
export class Streamer {
  private stopped = false
  private writeBack: boolean
  private readonly fs: WriteBackFs
  private nextAt = 0
  private started = false
  private readonly result: StreamResult = { passes: 0, sent: 0, skipped: 0, skippedLines: [], writeBack: false }
  /** The last bad row (any pass), for the supervisor's live view and `tpipe status`. */
  lastSkip: { line: number; reason: string; at: string } | undefined

  constructor(private readonly opts: StreamerOptions) {
    this.writeBack = opts.writeBack && !isGzipped(opts.csv)
    if (opts.writeBack && !this.writeBack) opts.log.info({ csv: opts.csv }, 'write-back off: a gzipped CSV is streamed read-only')
    this.fs = opts.fs ?? nodeFs
  }

  /** Progress so far (the returned result is only known at the end). */
  get progress(): { passes: number; sent: number; skipped: number; lastSkip: { line: number; reason: string; at: string } | null } {
    return { passes: this.result.passes, sent: this.result.sent, skipped: this.result.skipped, lastSkip: this.lastSkip ?? null }
  }

  /** True once the file has been opened and its columns found. */
  get running(): boolean {
    return this.started && !this.stopped
  }

  stop(): void {
    this.stopped = true
  }

  async run(): Promise<StreamResult> {
    try {
      for (let pass = 0; (this.opts.loops === 0 || pass < this.opts.loops) && !this.stopped; pass++) {
        await this.pass(pass)
        this.result.passes++
        this.opts.onPass?.()
      }
    } finally {
      await this.opts.publisher.drain()
    }
    this.result.writeBack = this.writeBack
    return { ...this.result }
  }

  private async pace(): Promise<void> {
    if (this.opts.rate <= 0) return
    const now = performance.now()
    // Catch up on timer lateness, but at most 100 ms of it: a stall (mqwriter slow) must not turn into a burst.
    this.nextAt = Math.max(this.nextAt, now - 100) + 1000 / this.opts.rate
    if (this.nextAt > now + 1) await sleep(this.nextAt - now)
  }

  private disableWriteBack(err: unknown): void {
    if (!this.writeBack) return
    this.writeBack = false
    const code = (err as { code?: string }).code
    const why = code === 'EROFS' || code === 'EACCES' || code === 'EPERM' ? 'the file or its directory is read-only' : code === 'EEXIST' || code === 'ELOOP' ? 'the temp file name was taken (or a symlink)' : 'writing failed'
    this.opts.log.warn({ err: (err as Error).message, code, csv: this.opts.csv }, `write-back switched off: ${why}; streaming goes on`)
  }

  /** Said once per reason: a pass whose file changed under it is skipped, not the whole write-back. */
  private readonly said = new Set<string>()
  private sayOnce(key: string, msg: string, fields: Record<string, unknown> = {}): void {
    if (this.said.has(key)) return
    this.said.add(key)
    this.opts.log.warn({ csv: this.opts.csv, ...fields }, msg)
  }

  private async pass(pass: number): Promise<void> {
    const { csv, log, publisher } = this.opts
    const { index: shardIndex, count: shardCount } = this.opts.shard
    const style = this.writeBack ? await fileStyle(csv) : { eol: '\n', bom: '' }
    let writer: PassWriter | undefined
    let writerOk = true
    const out = async (fields: readonly string[], prefix = '') => {
      if (!writer || !writerOk) return
      try {
        await writer.write(prefix + csvLine(fields) + style.eol)
      } catch (err) {
        writerOk = false
        this.disableWriteBack(err)
      }
    }
    let unreadable = 0
    // The file as the pass begins: write-back replaces it only if it is still exactly this at the end.
    let before: FileStat | undefined
    if (this.writeBack) {
      try {
        before = await this.fs.stat(csv)
        const refusal = await writeBackRefusal(csv, before, this.fs)
        if (refusal) {
          this.writeBack = false
          this.opts.log.warn({ csv }, `write-back off: ${refusal}; streaming goes on`)
        }
      } catch (err) {
        this.disableWriteBack(err)
      }
    }
    const file = createReadStream(csv)
    const gunzip = isGzipped(csv) ? createGunzip() : undefined
    const source = gunzip ? file.pipe(gunzip) : file
    const parser = source.pipe(parse({ bom: true, info: true, relax_column_count: true, skip_records_with_error: true, skip_empty_lines: true }))
    // pipe() does not forward a read error; without this the loop below would wait forever.
    file.on('error', (err) => parser.destroy(err))
    gunzip?.on('error', (err) => parser.destroy(err))
    parser.on('skip', (err: Error & { lines?: number }) => {
      unreadable++
      this.countSkipped(pass, err.lines ?? 0, err.message)
    })
    let map: ColumnMap | undefined
    let tsCol: number | undefined
    let index = 0
    try {
      for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
        if (this.stopped) break
        if (!map) {
          map = mapColumns(record)
          tsCol = map.timestamp
          this.started = true
          if (this.writeBack && tsCol === undefined) {
            this.writeBack = false
            log.info('write-back off: the CSV has no timestamp column')
          }
          if (this.writeBack && before) {
            try {
              writer = await PassWriter.open(csv, before, this.fs)
            } catch (err) {
              this.disableWriteBack(err)
            }
          }
          await out(record, style.bom)
          continue
        }
        const mine = index++ % shardCount === shardIndex
        if (!mine) {
          await out(record)
          continue
        }
        await this.pace()
        let ts = new Date().toISOString()
        if (this.opts.keepTimestamps) {
          const raw = tsCol === undefined ? undefined : record[tsCol]
          const t = raw === undefined || raw.trim() === '' ? NaN : Date.parse(raw)
          if (Number.isNaN(t)) {
            this.countSkipped(pass, info.lines, tsCol === undefined ? 'no timestamp column to keep' : `timestamp ${JSON.stringify(raw ?? '')} is not a valid time`)
            await out(record)
            continue
          }
          ts = new Date(t).toISOString()
        }
        const r = toPayload(record, map, ts)
        if ('error' in r) {
          this.countSkipped(pass, info.lines, r.error)
          await out(record)
          continue
        }
        await publisher.send(r.payload.gpu_uuid, r.payload)
        this.result.sent++
        if (tsCol !== undefined && record.length > tsCol) {
          const copy = record.slice()
          copy[tsCol] = ts
          await out(copy)
        } else await out(record)
      }
    } catch (err) {
      await writer?.abort()
      throw err
    } finally {
      file.destroy()
      gunzip?.destroy()
    }
    if (!map) throw new Error(`${csv} is empty: no header row`)
    if (!writer) return
    if (!writerOk || this.stopped) return void (await writer.abort())
    if (unreadable > 0) {
      // The parser could not say exactly what those lines held; rewriting the file would lose them.
      if (pass === 0) log.warn({ unreadable }, 'write-back skipped for this pass: some rows could not be parsed and would be lost')
      return void (await writer.abort())
    }
    try {
      await writer.commit()
    } catch (err) {
      // Changed under us (rows appended): this pass is not written back; the next one may be.
      if (err instanceof FileChangedError) this.sayOnce('changed', `write-back skipped: ${err.message}`)
      else this.disableWriteBack(err)
    }
  }

  private countSkipped(pass: number, line: number, reason: string): void {
    this.result.skipped++
    this.lastSkip = { line, reason, at: new Date().toISOString() }
    this.opts.onSkipped?.(1)
    if (pass === 0) {
      if (this.result.skippedLines.length < 1000) this.result.skippedLines.push(line)
      this.opts.log.warn({ line, reason, csv: this.opts.csv }, `skipping bad row at line ${line}: ${reason}`)
    }
  }
}
