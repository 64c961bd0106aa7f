// The GPU page: every metric of one GPU as a chart over a chosen range, from the bucketed API (one
// request, all metrics); drag on a chart to zoom in (the API is asked again at a finer step).
import { formatValue, KEY_METRICS, metricInfo, METRICS } from '../metrics.js'
import { apiUrl, getJson, type ApiGpu, type GpuSeries } from './api.js'
import type { Ctx, View } from './app.js'
import { Chart, chartsView } from './chart.js'
import { $, agoText, esc } from './dom.js'
import { rangeControl, rangeParams, readRange } from './range.js'

/** Points per series: about one per pixel column of a wide chart, and 10 series stay under the API's cap. */
const POINTS_PER_SERIES = 720

export function gpuView(ctx: Ctx, id: string): View {
  const state = readRange(ctx.params)
  let hostname = ctx.params.get('host') ?? ''
  const charts = new Map<string, Chart>()
  let first = true

  ctx.main.innerHTML = `
    <nav class="crumbs" aria-label="Breadcrumb"><a href="#/">Fleet</a> › <span id="crumb-host"></span> › <span aria-current="page">GPU</span></nav>
    <h1 class="page-title" id="gpu-title">GPU <small>${esc(id)}</small></h1>
    <section class="latest" id="latest" aria-label="Latest values"></section>
    <div class="controls" id="range"></div>
    <p class="step" id="step" aria-live="polite"></p>
    <div class="charts" id="charts"></div>
    <p class="json">Raw JSON: <span id="json-links"></span> · drag across a chart to zoom in; pick a range to zoom out.</p>`
  const chartsBox = $(ctx.main, '#charts')
  const control = rangeControl(ctx, $(ctx.main, '#range'), state, hostname ? { host: hostname } : {}, () => ctx.reload())

  function chartFor(metric: string): Chart {
    let c = charts.get(metric)
    if (c) return c
    const m = metricInfo(metric)
    const card = document.createElement('section')
    card.className = 'card'
    card.dataset.metric = metric
    const title = `${m.label}${m.unit ? ` (${m.unit})` : ''}`
    card.innerHTML = `<h2>${esc(title)}</h2><div class="chart" role="img" data-metric="${esc(metric)}"></div>`
    // Keep the METRICS order whatever order the data arrives in.
    const order = METRICS.findIndex((x) => x.name === metric)
    const after = [...chartsBox.children].find((el) => METRICS.findIndex((x) => x.name === (el as HTMLElement).dataset.metric) > order)
    chartsBox.insertBefore(card, after ?? null)
    c = new Chart($(card, '.chart'), { metric, title, onZoom: (from, to) => to - from >= 10 && control.set({ start: from, end: to }) })
    charts.set(metric, c)
    return c
  }

  ctx.live(async (signal) => {
    const { params, step } = rangeParams(state, POINTS_PER_SERIES)
    const metricParams = METRICS.map((m) => ['metric', m.name] as const)
    const path = `api/v1/gpus/${encodeURIComponent(id)}/telemetry`
    const gpusParams = [...(hostname ? [['hostname', hostname] as const] : []), ['metrics', KEY_METRICS.join(',')] as const]
    $(ctx.main, '#json-links').innerHTML = `<a href="${esc(apiUrl(path, [...metricParams, ...params]))}">these series</a> · <a href="${esc(apiUrl('api/v1/gpus', gpusParams))}">latest values</a>`
    const [series, gpus] = await Promise.all([getJson<GpuSeries>(path, [...metricParams, ...params], signal), getJson<{ gpus: ApiGpu[] }>('api/v1/gpus', gpusParams, signal)])
    const gpu = gpus.gpus.find((g) => g.id === id)
    if (gpu) {
      hostname = gpu.hostname
      $(ctx.main, '#crumb-host').innerHTML = `<a href="#/host/${encodeURIComponent(gpu.hostname)}">${esc(gpu.hostname)}</a>`
      $(ctx.main, '#gpu-title').innerHTML = `GPU ${esc(gpu.gpu_id)} on ${esc(gpu.hostname)} <small>${esc(gpu.model_name)} · ${esc(gpu.device)} · ${esc(gpu.id)}</small>`
      document.title = `GPU ${gpu.gpu_id} on ${gpu.hostname} — tpipe`
      $(ctx.main, '#latest').innerHTML =
        KEY_METRICS.map((m) => `<div class="count" data-metric="${m}" data-value="${gpu.latest?.[m]?.value ?? ''}"><span class="n">${esc(formatValue(m, gpu.latest?.[m]?.value))}</span><span class="l">${esc(metricInfo(m).label)}</span></div>`).join('') +
        `<div class="count"><span class="n"><time datetime="${esc(gpu.last_seen)}">${esc(agoText(gpu.last_seen))}</time></span><span class="l">last seen</span></div>`
    }
    $(ctx.main, '#step').textContent = `${new Date(series.start).toLocaleString()} – ${new Date(series.end).toLocaleString()}, ${series.agg} per ${series.step_seconds} s bucket`
    const withData = series.series.filter((s) => s.points.length > 0)
    for (const s of withData) chartFor(s.metric).update([{ label: metricInfo(s.metric).label, points: s.points }])
    for (const [m, c] of charts) if (!withData.some((s) => s.metric === m)) c.update([])
    if (!withData.length) {
      chartsBox.querySelector('.empty')?.remove()
      chartsBox.insertAdjacentHTML('afterbegin', `<p class="empty" id="no-series">No data for this GPU in this range (${step} s buckets). Pick a longer range.</p>`)
    } else chartsBox.querySelector('.empty')?.remove()
    if (first && withData.length) {
      first = false
      performance.mark('tpipe:first-chart')
    }
    ctx.loaded()
  })

  return chartsView(charts)
}
