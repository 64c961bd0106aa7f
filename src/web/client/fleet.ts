// The fleet page: every GPU with its latest key metrics and last-hour trends, counts, filters, sorting.
// One /api/v1/gpus call with the latest values plus one grouped /api/v1/telemetry call per key metric
// (not one call per GPU), refreshed live.
import { BUSY_FROM_PERCENT, chooseStep, durationText, fleetCounts, formatValue, gpuStates, HOT_FROM_CELSIUS, IDLE_BELOW_PERCENT, KEY_METRICS, metricInfo } from '../metrics.js'
import { ApiFailure, apiUrl, getJson, type ApiGpu, type FleetSeries, type Params, type Point } from './api.js'
import type { Ctx, View } from './app.js'
import { $, agoText, esc, sparkline } from './dom.js'

interface Row {
  gpu: ApiGpu
  latest: Partial<Record<string, number>>
}

type SortKey = 'gpu' | 'model' | 'last_seen' | (typeof KEY_METRICS)[number]
type StateFilter = '' | 'idle' | 'busy' | 'hot'

const SHORT: Record<(typeof KEY_METRICS)[number], string> = {
  DCGM_FI_DEV_GPU_UTIL: 'Utilisation',
  DCGM_FI_DEV_FB_USED: 'Memory used',
  DCGM_FI_DEV_GPU_TEMP: 'Temp.',
  DCGM_FI_DEV_POWER_USAGE: 'Power',
}

/** Most points one grouped trend request may bring back (the API caps a response's points). */
const TREND_POINTS_BUDGET = 10_000

export function fleetView(ctx: Ctx): View {
  const p = ctx.params
  const state = {
    q: p.get('q') ?? '',
    host: p.get('host') ?? '',
    model: p.get('model') ?? '',
    only: (p.get('state') ?? '') as StateFilter,
    sort: (p.get('sort') ?? 'gpu') as SortKey,
    desc: p.get('order') === 'desc',
  }
  let rows: Row[] = []
  let trends = new Map<string, Map<string, Point[]>>()
  let loaded = false
  let knownGpus = 250

  ctx.main.innerHTML = `
    <h1 class="page-title">GPU fleet</h1>
    <section class="counts" aria-label="Fleet counts">
      <div class="count"><span class="n" id="n-gpus">–</span><span class="l">GPUs</span></div>
      <div class="count"><span class="n" id="n-hosts">–</span><span class="l">hosts</span></div>
      <button type="button" class="count" data-state="idle" aria-pressed="false" title="utilisation below ${IDLE_BELOW_PERCENT} %"><span class="n" id="n-idle">–</span><span class="l">idle <small>&lt; ${IDLE_BELOW_PERCENT} %</small></span></button>
      <button type="button" class="count" data-state="busy" aria-pressed="false" title="utilisation at least ${BUSY_FROM_PERCENT} %"><span class="n" id="n-busy">–</span><span class="l">busy <small>≥ ${BUSY_FROM_PERCENT} %</small></span></button>
      <button type="button" class="count hot" data-state="hot" aria-pressed="false" title="temperature at least ${HOT_FROM_CELSIUS} °C"><span class="n" id="n-hot">–</span><span class="l">hot <small>≥ ${HOT_FROM_CELSIUS} °C</small></span></button>
    </section>
    <form class="filters" role="search" aria-label="Filter GPUs">
      <label>Search <input id="f-q" type="search" placeholder="host, uuid, model, device" autocomplete="off"></label>
      <label>Host <select id="f-host"><option value="">all hosts</option></select></label>
      <label>Model <select id="f-model"><option value="">all models</option></select></label>
    </form>
    <div id="fleet-body" aria-live="polite"><p class="empty">Loading…</p></div>
    <p class="json">Raw JSON: <span id="json-links"></span></p>`

  const q = $<HTMLInputElement>(ctx.main, '#f-q')
  const host = $<HTMLSelectElement>(ctx.main, '#f-host')
  const model = $<HTMLSelectElement>(ctx.main, '#f-model')
  const body = $(ctx.main, '#fleet-body')
  q.value = state.q
  ctx.main.querySelector('form')!.addEventListener('submit', (e) => e.preventDefault())
  q.addEventListener('input', () => ((state.q = q.value), changed()))
  host.addEventListener('change', () => ((state.host = host.value), changed()))
  model.addEventListener('change', () => ((state.model = model.value), changed()))
  ctx.main.querySelectorAll<HTMLButtonElement>('button.count').forEach((b) =>
    b.addEventListener('click', () => {
      state.only = state.only === b.dataset.state ? '' : (b.dataset.state as StateFilter)
      changed()
    }),
  )
  body.addEventListener('click', (e) => {
    const b = (e.target as Element).closest<HTMLButtonElement>('button[data-sort]')
    if (!b) return
    const key = b.dataset.sort as SortKey
    if (state.sort === key) state.desc = !state.desc
    else {
      state.sort = key
      state.desc = key.startsWith('DCGM_')
    }
    changed()
    body.querySelector<HTMLButtonElement>(`button[data-sort="${key}"]`)?.focus()
  })

  function changed(): void {
    const np = new URLSearchParams()
    if (state.q) np.set('q', state.q)
    if (state.host) np.set('host', state.host)
    if (state.model) np.set('model', state.model)
    if (state.only) np.set('state', state.only)
    if (state.sort !== 'gpu') np.set('sort', state.sort)
    if (state.desc) np.set('order', 'desc')
    ctx.setParams(np)
    render()
  }

  function setOptions(select: HTMLSelectElement, values: string[], all: string, chosen: string): void {
    const want = [all, ...values]
    const have = [...select.options].map((o) => o.value)
    if (have.length === want.length && have.every((v, i) => v === (i ? want[i] : ''))) return
    select.innerHTML = `<option value="">${esc(all)}</option>${values.map((v) => `<option>${esc(v)}</option>`).join('')}`
    select.value = values.includes(chosen) ? chosen : ''
  }

  function visible(): Row[] {
    const needle = state.q.trim().toLowerCase()
    const out = rows.filter((r) => {
      const g = r.gpu
      if (state.host && g.hostname !== state.host) return false
      if (state.model && g.model_name !== state.model) return false
      if (state.only && !gpuStates(r.latest).has(state.only)) return false
      if (needle && !`${g.hostname} ${g.id} ${g.model_name} ${g.device} gpu${g.gpu_id}`.toLowerCase().includes(needle)) return false
      return true
    })
    const byGpu = (a: Row, b: Row) => a.gpu.hostname.localeCompare(b.gpu.hostname) || a.gpu.gpu_id - b.gpu.gpu_id || a.gpu.id.localeCompare(b.gpu.id)
    const key = state.sort
    const dir = state.desc ? -1 : 1
    out.sort((a, b) => {
      if (key === 'gpu') return dir * byGpu(a, b)
      if (key === 'model') return dir * a.gpu.model_name.localeCompare(b.gpu.model_name) || byGpu(a, b)
      if (key === 'last_seen') return dir * (Date.parse(a.gpu.last_seen) - Date.parse(b.gpu.last_seen)) || byGpu(a, b)
      const va = a.latest[key]
      const vb = b.latest[key]
      // GPUs without the value go last whatever the direction.
      if (va === undefined || vb === undefined) return (va === undefined ? 1 : 0) - (vb === undefined ? 1 : 0) || byGpu(a, b)
      return dir * (va - vb) || byGpu(a, b)
    })
    return out
  }

  function header(key: SortKey, label: string, cls = ''): string {
    const sorted = state.sort === key
    const aria = sorted ? (state.desc ? 'descending' : 'ascending') : 'none'
    return `<th scope="col" class="${cls}" aria-sort="${aria}"><button type="button" data-sort="${key}">${esc(label)}<span class="arrow" aria-hidden="true">${sorted ? (state.desc ? '▾' : '▴') : ''}</span></button></th>`
  }

  function render(): void {
    const counts = fleetCounts(rows.map((r) => ({ id: r.gpu.id, hostname: r.gpu.hostname, latest: r.latest })))
    for (const k of ['gpus', 'hosts', 'idle', 'busy', 'hot'] as const) $(ctx.main, `#n-${k}`).textContent = loaded ? String(counts[k]) : '–'
    ctx.main.querySelectorAll<HTMLButtonElement>('button.count').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.state === state.only)))
    setOptions(host, [...new Set(rows.map((r) => r.gpu.hostname))].sort(), 'all hosts', state.host)
    setOptions(model, [...new Set(rows.map((r) => r.gpu.model_name))].sort(), 'all models', state.model)
    if (!loaded) return
    if (!rows.length) {
      body.innerHTML = `<div class="empty" id="no-data"><h2>No data yet</h2><p>No GPU has sent telemetry to this pipeline so far. Start it with
        <code>tpipe dev</code> (or check that the streamers and collectors are running: <code>tpipe status</code>); this page updates by itself.</p></div>`
      return
    }
    const list = visible()
    const now = Date.now()
    const cells = (r: Row) =>
      KEY_METRICS.map((m) => {
        const v = r.latest[m]
        const hot = m === 'DCGM_FI_DEV_GPU_TEMP' && v !== undefined && v >= HOT_FROM_CELSIUS
        const pts = trends.get(m)?.get(r.gpu.id)
        const pct = metricInfo(m).unit === '%'
        return `<td class="num${hot ? ' hot' : ''}" data-metric="${m}" data-value="${v ?? ''}"><span class="v">${esc(formatValue(m, v))}</span>${sparkline(pts, `${SHORT[m]}, last hour`, pct ? 0 : undefined, pct ? 100 : undefined)}</td>`
      }).join('')
    body.innerHTML = `
      <p class="shown" id="shown">${list.length === rows.length ? `${rows.length} GPUs` : `${list.length} of ${rows.length} GPUs match`}</p>
      <div class="table-wrap"><table class="fleet">
        <caption class="sr-only">GPUs with their latest values and last-hour trends; column headers sort.</caption>
        <thead><tr>${header('gpu', 'GPU')}${header('model', 'Model', 'col-model')}${KEY_METRICS.map((m) => header(m, SHORT[m], 'num')).join('')}${header('last_seen', 'Last seen', 'col-seen')}</tr></thead>
        <tbody>${list
          .map(
            (r) => `<tr data-gpu="${esc(r.gpu.id)}">
              <th scope="row"><a class="host" href="#/host/${encodeURIComponent(r.gpu.hostname)}">${esc(r.gpu.hostname)}</a>
                <a class="gpu" href="#/gpu/${encodeURIComponent(r.gpu.id)}" title="${esc(r.gpu.id)}">GPU ${esc(r.gpu.gpu_id)} <small>${esc(r.gpu.device)}</small></a></th>
              <td class="col-model">${esc(r.gpu.model_name)}</td>${cells(r)}
              <td class="col-seen"><time datetime="${esc(r.gpu.last_seen)}">${esc(agoText(r.gpu.last_seen, now))}</time></td></tr>`,
          )
          .join('')}</tbody></table></div>
      ${list.length ? '' : '<p class="empty">No GPU matches the filters.</p>'}`
  }

  function trendParams(metric: string): Params {
    const step = chooseStep(3600, Math.floor(TREND_POINTS_BUDGET / Math.max(1, knownGpus)), 60)
    return [
      ['metric', metric],
      ['group_by', 'gpu'],
      ['window', '1h'],
      ['step', durationText(step)],
      ['agg', 'avg'],
    ]
  }

  ctx.live(async (signal) => {
    const gpuParams: Params = [['metrics', KEY_METRICS.join(',')]]
    const trendReqs = KEY_METRICS.map((m) => [m, trendParams(m)] as const)
    $(ctx.main, '#json-links').innerHTML = [
      `<a href="${esc(apiUrl('api/v1/gpus', gpuParams))}">GPUs with latest values</a>`,
      ...trendReqs.map(([m, ps]) => `<a href="${esc(apiUrl('api/v1/telemetry', ps))}">${esc(SHORT[m])} trends</a>`),
    ].join(' · ')
    const [gpus, ...settled] = await Promise.all([
      getJson<{ gpus: ApiGpu[] }>('api/v1/gpus', gpuParams, signal),
      ...trendReqs.map(([, ps]) => getJson<FleetSeries>('api/v1/telemetry', ps, signal).then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, e }))),
    ])
    rows = gpus.gpus.map((g) => ({ gpu: g, latest: Object.fromEntries(Object.entries(g.latest ?? {}).map(([k, v]) => [k, v.value])) }))
    knownGpus = Math.max(1, rows.length)
    const next = new Map<string, Map<string, Point[]>>()
    settled.forEach((s, i) => {
      // A trend that failed keeps its previous lines; an unreachable API fails the whole load below.
      if (s.ok) next.set(s.v.metric, new Map(s.v.series.map((x) => [x.group, x.points])))
      else if (trends.has(KEY_METRICS[i]!)) next.set(KEY_METRICS[i]!, trends.get(KEY_METRICS[i]!)!)
    })
    trends = next
    const firstLoad = !loaded
    loaded = true
    render()
    if (firstLoad) performance.mark('tpipe:fleet-rendered')
    const failed = settled.find((s) => !s.ok)
    if (failed && !failed.ok && failed.e instanceof ApiFailure && failed.e.kind !== 'bad') throw failed.e
    ctx.loaded()
  })

  return { dispose() {} }
}
