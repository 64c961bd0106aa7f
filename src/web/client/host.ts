// The host page: one host's GPUs side by side — a table of their latest values and, per key metric, one
// chart with a line per GPU (one grouped /api/v1/telemetry call per metric, filtered to the host).
import { formatValue, KEY_METRICS, metricInfo } from '../metrics.js'
import { apiUrl, getJson, type ApiGpu, type FleetSeries, type Params } from './api.js'
import type { Ctx, View } from './app.js'
import { Chart, chartsView } from './chart.js'
import { $, agoText, esc } from './dom.js'
import { rangeControl, rangeParams, readRange } from './range.js'

const POINTS_BUDGET = 10_000

export function hostView(ctx: Ctx, hostname: string): View {
  const state = readRange(ctx.params)
  const charts = new Map<string, Chart>()
  document.title = `${hostname} — tpipe`
  ctx.main.innerHTML = `
    <nav class="crumbs" aria-label="Breadcrumb"><a href="#/">Fleet</a> › <span aria-current="page">${esc(hostname)}</span></nav>
    <h1 class="page-title">Host ${esc(hostname)} <small id="host-sub"></small></h1>
    <div id="host-table"><p class="empty">Loading…</p></div>
    <div class="controls" id="range"></div>
    <p class="step" id="step" aria-live="polite"></p>
    <div class="charts" id="charts">${KEY_METRICS.map((m) => {
      const i = metricInfo(m)
      return `<section class="card" data-metric="${m}"><h2>${esc(i.label)} (${esc(i.unit)}), per GPU</h2><div class="chart" role="img" data-metric="${m}"></div></section>`
    }).join('')}</div>
    <p class="json">Raw JSON: <span id="json-links"></span></p>`
  const control = rangeControl(ctx, $(ctx.main, '#range'), state, {}, () => ctx.reload())
  for (const m of KEY_METRICS) {
    const i = metricInfo(m)
    charts.set(m, new Chart($(ctx.main, `.chart[data-metric="${m}"]`), { metric: m, title: `${i.label} per GPU`, onZoom: (from, to) => to - from >= 10 && control.set({ start: from, end: to }) }))
  }
  let gpuCount = 8

  ctx.live(async (signal) => {
    const { params, step } = rangeParams(state, Math.min(720, Math.floor(POINTS_BUDGET / gpuCount)))
    const gpusParams: Params = [
      ['hostname', hostname],
      ['metrics', KEY_METRICS.join(',')],
    ]
    const reqs = KEY_METRICS.map((m) => [m, [['metric', m], ['group_by', 'gpu'], ['hostname', hostname], ...params] as Params] as const)
    $(ctx.main, '#json-links').innerHTML = [`<a href="${esc(apiUrl('api/v1/gpus', gpusParams))}">GPUs of ${esc(hostname)}</a>`, ...reqs.map(([m, ps]) => `<a href="${esc(apiUrl('api/v1/telemetry', ps))}">${esc(metricInfo(m).label)}</a>`)].join(' · ')
    const [gpus, ...series] = await Promise.all([getJson<{ gpus: ApiGpu[] }>('api/v1/gpus', gpusParams, signal), ...reqs.map(([, ps]) => getJson<FleetSeries>('api/v1/telemetry', ps, signal))])
    const list = gpus.gpus
    gpuCount = Math.max(1, list.length)
    const name = new Map(list.map((g) => [g.id, `GPU ${g.gpu_id}`]))
    $(ctx.main, '#host-sub').textContent = list.length ? `${list.length} GPUs · ${[...new Set(list.map((g) => g.model_name))].join(', ')}` : ''
    $(ctx.main, '#host-table').innerHTML = list.length
      ? `<div class="table-wrap"><table class="fleet host"><caption class="sr-only">GPUs of ${esc(hostname)} with their latest values</caption>
        <thead><tr><th scope="col">GPU</th>${KEY_METRICS.map((m) => `<th scope="col" class="num">${esc(metricInfo(m).label)}</th>`).join('')}<th scope="col" class="col-seen">Last seen</th></tr></thead>
        <tbody>${list
          .map(
            (g) => `<tr data-gpu="${esc(g.id)}"><th scope="row"><a class="gpu" href="#/gpu/${encodeURIComponent(g.id)}?host=${encodeURIComponent(hostname)}" title="${esc(g.id)}">GPU ${esc(g.gpu_id)} <small>${esc(g.device)}</small></a></th>
            ${KEY_METRICS.map((m) => `<td class="num" data-metric="${m}" data-value="${g.latest?.[m]?.value ?? ''}">${esc(formatValue(m, g.latest?.[m]?.value))}</td>`).join('')}
            <td class="col-seen">${esc(agoText(g.last_seen))}</td></tr>`,
          )
          .join('')}</tbody></table></div>`
      : `<p class="empty" id="no-data">No GPU of host ${esc(hostname)} has telemetry.</p>`
    $(ctx.main, '#step').textContent = series[0] ? `${new Date(series[0].start).toLocaleString()} – ${new Date(series[0].end).toLocaleString()}, ${state.agg} per ${step} s bucket` : ''
    series.forEach((s, i) => {
      const sorted = [...s.series].sort((a, b) => (name.get(a.group) ?? a.group).localeCompare(name.get(b.group) ?? b.group, 'en', { numeric: true }))
      charts.get(KEY_METRICS[i]!)!.update(sorted.map((x) => ({ label: name.get(x.group) ?? x.group.slice(0, 12), points: x.points })))
    })
    ctx.loaded()
  })

  return chartsView(charts)
}
