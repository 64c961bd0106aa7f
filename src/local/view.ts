// Renders the status of a running pipeline (tpipe dev's live view and `tpipe status`).
import type { DevStatus } from './supervisor.js'

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length)
}

export function renderTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((c, i) => pad(c, widths[i]!)).join('  ').trimEnd()).join('\n')
}

const n0 = (v: number | null | undefined) => (v === null || v === undefined ? '-' : Math.round(v).toLocaleString('en-US'))

export function renderStatus(s: DevStatus): string {
  const services = new Map<string, { up: number; total: number; restarts: number; states: string[] }>()
  for (const p of s.processes) {
    const e = services.get(p.service) ?? { up: 0, total: 0, restarts: 0, states: [] }
    e.total++
    if (p.state === 'up' || p.state === 'done') e.up++
    e.restarts += p.restarts
    if (p.state !== 'up') e.states.push(`${p.name} ${p.state}`)
    services.set(p.service, e)
  }
  const svcRows = [['service', 'up', 'restarts', 'notes']]
  for (const [name, e] of services) svcRows.push([name, `${e.up}/${e.total}`, String(e.restarts), e.states.join(', ')])
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
  return [
    renderTable(svcRows),
    '',
    `publishes/s ${n0(s.publishesPerSecond)}   persisted/s ${n0(s.persistedPerSecond)}   queue depth ${n0(s.queueDepth)}   leased ${n0(s.leased)}   dead letters ${n0(s.deadLetters)}`,
    `published ${n0(s.published)}   persisted ${n0(s.persisted)}   partition generation ${s.generation}`,
    '',
    renderTable(readerRows),
    ...scraperLines,
    '',
    `API ${s.apigwUrl}/api/v1/gpus   Swagger UI ${s.swaggerUrl}`,
  ].join('\n')
}

export function statusLine(s: DevStatus): string {
  const down = s.processes.filter((p) => p.state !== 'up' && p.state !== 'done').map((p) => p.name)
  return (
    `publishes/s=${n0(s.publishesPerSecond)} persisted/s=${n0(s.persistedPerSecond)} queue=${n0(s.queueDepth)} leased=${n0(s.leased)} ` +
    `dead=${n0(s.deadLetters)} readers=${s.readers.map((r) => `${r.name}:${r.partitions || '-'}`).join(' ')} restarts=${s.restarts}` +
    (down.length ? ` not-up=${down.join(',')}` : '')
  )
}
