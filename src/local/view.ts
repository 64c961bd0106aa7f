// Renders the status of a running pipeline (tpipe dev's live view and `tpipe status`), and the live
// view itself: redrawn in place on the terminal's alternate screen (the scrollback keeps only what was
// printed before and after), or a status line every 5 s when stdout is not a terminal.
import type { DevStatus } from './status.js'

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length)
}

export function renderTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((c, i) => pad(c, widths[i]!)).join('  ').trimEnd()).join('\n')
}

const n0 = (v: number | null | undefined) => (v === null || v === undefined ? '-' : Math.round(v).toLocaleString('en-US'))

/** A process counts as up when it runs and its /readyz answers (a reader without partitions: alive). */
function isUp(p: DevStatus['processes'][number]): boolean {
  return p.state === 'up' && p.ready !== false
}

export function renderStatus(s: DevStatus): string {
  const services = new Map<string, { up: number; done: number; total: number; restarts: number; notes: string[] }>()
  for (const p of s.processes) {
    const e = services.get(p.service) ?? { up: 0, done: 0, total: 0, restarts: 0, notes: [] }
    e.total++
    if (p.state === 'done') e.done++
    else if (isUp(p)) e.up++
    else if (p.state === 'up') e.notes.push(`${p.name} not ready`)
    else e.notes.push(`${p.name} ${p.state}`)
    e.restarts += p.restarts
    services.set(p.service, e)
  }
  const svcRows = [['service', 'up', 'restarts', 'notes']]
  for (const [name, e] of services) {
    const notes = [...(e.done ? [`${e.done} finished`] : []), ...e.notes]
    svcRows.push([name, `${e.up}/${e.total}`, String(e.restarts), notes.join(', ')])
  }
  const readerRows = [['reader', 'partitions', 'count', 'ready', 'leased', 'buffer']]
  for (const r of s.readers) {
    readerRows.push([
      r.name,
      r.partitions || '(none)',
      String(r.partitionCount),
      n0(r.ready),
      n0(r.leased),
      r.bufferUtilization === null ? '-' : `${Math.round(r.bufferUtilization * 100)}%`,
    ])
  }
  const scraperLines = s.scrapers?.length
    ? [
        '',
        renderTable([
          ['scraper', 'targets', 'up', 'down', 'samples/scrape', 'failing'],
          ...s.scrapers.map((x) => [x.name, String(x.targets), String(x.up), String(x.down), n0(x.samples), x.lastError ?? '']),
        ]),
      ]
    : []
  const db = s.database?.reachable === false ? `database UNREACHABLE: ${s.database.error}` : 'database ok'
  const skip = s.lastSkip ? `   last: ${s.lastSkip.streamer} line ${s.lastSkip.line}: ${s.lastSkip.reason}` : ''
  return [
    renderTable(svcRows),
    '',
    db,
    `publishes/s ${n0(s.publishesPerSecond)}   persisted/s ${n0(s.persistedPerSecond)}   queue depth ${n0(s.queueDepth)}   leased ${n0(s.leased)}   dead letters ${n0(s.deadLetters)}`,
    `published ${n0(s.published)}   persisted ${n0(s.persisted)}   partition generation ${s.generation}`,
    `skipped bad CSV rows ${n0(s.skipped ?? 0)}${skip}`,
    '',
    renderTable(readerRows),
    ...scraperLines,
    '',
    `API ${(s.apigwUrls?.length ? s.apigwUrls : [s.apigwUrl]).map((u) => `${u}/api/v1/gpus`).join('  ')}   Swagger UI ${s.swaggerUrl}`,
    ...(s.logs ? [`logs ${s.logs}`] : []),
  ].join('\n')
}

export function statusLine(s: DevStatus): string {
  const down = s.processes.filter((p) => p.state !== 'done' && !isUp(p)).map((p) => p.name)
  return (
    `publishes/s=${n0(s.publishesPerSecond)} persisted/s=${n0(s.persistedPerSecond)} queue=${n0(s.queueDepth)} leased=${n0(s.leased)} ` +
    `dead=${n0(s.deadLetters)} skipped=${n0(s.skipped)} readers=${s.readers.map((r) => `${r.name}:${r.partitions || '-'}`).join(' ')} restarts=${s.restarts}` +
    (s.database.reachable ? '' : ' database=UNREACHABLE') +
    (down.length ? ` not-up=${down.join(',')}` : '')
  )
}

/**
 * The status the stop totals are printed from: published as read once the streamers stopped (every
 * publish answered), persisted once the readers drained (every leased message acked, so persisted: read
 * together with published it missed what was in flight), queue depth and dead letters at the very end.
 */
export function statusAtStop(published: DevStatus, drained: DevStatus | undefined, end: DevStatus | undefined): DevStatus {
  return {
    ...published,
    persisted: drained?.persisted ?? published.persisted,
    queueDepth: end?.queueDepth ?? published.queueDepth,
    deadLetters: end?.deadLetters ?? drained?.deadLetters ?? published.deadLetters,
  }
}

/** The totals printed when `tpipe dev` stops; coloured on a terminal. */
export function formatTotals(s: DevStatus, telemetryRows: number | undefined, colour: boolean): string {
  const c = (code: number, t: string) => (colour ? `\x1b[${code}m${t}\x1b[0m` : t)
  const parts = [
    `published ${c(1, n0(s.published))}`,
    `persisted ${c(32, n0(s.persisted))}`,
    `skipped ${c(s.skipped ? 33 : 0, n0(s.skipped))}`,
    `dead letters ${c(s.deadLetters ? 31 : 0, n0(s.deadLetters))}`,
    `left in queue ${c(s.queueDepth ? 31 : 0, n0(s.queueDepth))}`,
  ]
  if (telemetryRows !== undefined) parts.push(`telemetry rows ${n0(telemetryRows)}`)
  return `totals: ${parts.join('   ')}`
}

export class LiveView {
  private timer: NodeJS.Timeout | undefined
  private readonly tty = process.stdout.isTTY === true
  private drawing = false

  constructor(
    private readonly source: { status(): Promise<DevStatus> },
    private readonly log: (msg: string) => void,
  ) {}

  start(): void {
    if (this.tty) process.stdout.write('\x1b[?1049h\x1b[?25l') // alternate screen, hide the cursor
    this.timer = setInterval(() => void this.draw(), this.tty ? 1000 : 5000)
    void this.draw()
  }

  private async draw(): Promise<void> {
    if (this.drawing) return
    this.drawing = true
    try {
      const s = await this.source.status()
      if (!this.timer) return
      if (this.tty) process.stdout.write(`\x1b[H\x1b[2J${new Date().toISOString()}  tpipe dev — Ctrl-C stops everything in order\n\n${renderStatus(s)}\n`)
      else this.log(`${new Date().toISOString()} ${statusLine(s)}`)
    } catch {
      /* the next tick tries again */
    } finally {
      this.drawing = false
    }
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    if (this.tty) process.stdout.write('\x1b[?25h\x1b[?1049l') // back to the main screen, cursor on
  }
}
