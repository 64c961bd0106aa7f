import { Args, Flags } from '@oclif/core'
import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import type { TelemetryPage, TelemetryRow } from '../../src/protocol/apigw.js'
import { withApiClient } from '../../src/cli/api.js'
import { csvHeader, csvRows, table, type Column } from '../../src/apigw/format.js'
import { plotAnswer, plotQuery, type GpuSeriesAnswer } from '../../src/cli/plot.js'
import { KEY_METRICS } from '../../src/web/metrics.js'
import { flagDuration, TIME_FORMS, windowParams } from '../../src/cli/time.js'
import { AGGS } from '../../src/protocol/series.js'

const COLUMNS: Column<TelemetryRow>[] = [
  ['ts', (r) => r.ts],
  ['metric_name', (r) => r.metric_name],
  ['value', (r) => r.value],
  ['msg_uuid', (r) => r.msg_uuid],
]
const DETAIL: Column<TelemetryRow>[] = [
  ['container', (r) => r.container],
  ['pod', (r) => r.pod],
  ['namespace', (r) => r.namespace],
  ['labels', (r) => r.labels],
]

/** One bucket of a --step answer, as a table row. */
interface Bucket {
  metric: string
  t: number
  value: number
}

export default class GpusTelemetry extends TpipeCommand {
  static override summary = 'Show the telemetry of one GPU (by its uuid) from a running apigw: raw rows newest first, or bucketed with --step.'
  static override description = `Raw rows come newest first (--order asc: oldest first), one page at a time (--all follows every page). With --step the samples are aggregated (--agg) into buckets aligned to the step, one series per metric, in time order.

Times (--start, --end): ${TIME_FORMS}. Write a relative time as --start=-1h or --start "1h ago".`
  static override examples = [
    '<%= config.bin %> gpus telemetry GPU-5fd4f087-86f3-7a43-b711-4771313afc50 --step 1m --agg avg --since 1h',
    '<%= config.bin %> gpus telemetry GPU-5fd4f087-86f3-7a43-b711-4771313afc50 --metric DCGM_FI_DEV_GPU_UTIL --metric DCGM_FI_DEV_GPU_TEMP --step 5m --agg max --start yesterday -o csv',
    {
      description: 'A window of a historical export, streamed with its own times by `tpipe dev --csv export.csv --keep-timestamps --loops 1`, oldest first:',
      command: '<%= config.bin %> gpus telemetry GPU-5fd4f087-86f3-7a43-b711-4771313afc50 --start 2025-07-18T20:00:00Z --end 2025-07-18T21:00:00Z --order asc',
    },
    '<%= config.bin %> gpus telemetry GPU-5fd4f087-86f3-7a43-b711-4771313afc50 --metric DCGM_FI_DEV_GPU_UTIL --all --output csv',
    '<%= config.bin %> gpus telemetry GPU-5fd4f087-86f3-7a43-b711-4771313afc50 --plot --since 6h',
  ]
  static override enableJsonFlag = true
  static override args = { id: Args.string({ description: 'GPU uuid (GPU-…), as listed by `tpipe gpus list`.', required: true }) }
  static override flags = {
    'api-url': settingFlags('cli')['api-url']!,
    start: Flags.string({ description: 'Start of the window (inclusive): RFC 3339, a date, now, today, yesterday, -1h, "2h ago".' }),
    end: Flags.string({ description: 'End of the window (inclusive), in the same forms as --start.' }),
    since: Flags.string({ description: 'Window of this length ending now or at --end (15m, 1h, 7d).' }),
    metric: Flags.string({ description: 'Only this metric; repeat for several.', multiple: true }),
    step: Flags.string({ description: 'Bucket width (60s, 1m, 5m, 1h): aggregated series instead of raw rows.' }),
    agg: Flags.string({ description: 'Aggregate per bucket, with --step (default avg).', options: [...AGGS] }),
    order: Flags.string({ description: 'Raw rows: desc newest first, asc oldest first.', options: ['desc', 'asc'], default: 'desc' }),
    limit: Flags.integer({ description: 'Rows per page (1..10000; apigw default 1000).', min: 1, max: 10000 }),
    cursor: Flags.string({ description: 'Start at this next_cursor of an earlier page.' }),
    all: Flags.boolean({ description: 'Follow next_cursor until the last page.' }),
    detail: Flags.boolean({ description: 'Also show container, pod, namespace and labels (slower on large tables).' }),
    output: Flags.string({ char: 'o', description: 'Output format.', options: ['table', 'json', 'csv'], default: 'table' }),
    plot: Flags.boolean({
      description: 'Draw a line chart per metric (default: utilisation, memory used, temperature, power) as wide as the terminal, over the window (default the last hour), from the bucketed API.',
    }),
  }

  async run(): Promise<TelemetryPage | GpuSeriesAnswer> {
    const { args, flags } = await this.parse(GpusTelemetry)
    const config = this.loadConfigFrom(flags, 'cli')
    const now = Date.now()
    const window = windowParams(flags, now)
    const raw = !flags.step && !flags.plot
    if (!raw) {
      const rawOnly: string[] = (['limit', 'cursor', 'all', 'detail'] as const).filter((f) => flags[f] !== undefined && flags[f] !== false)
      if (this.argv.some((a) => a === '--order' || a.startsWith('--order='))) rawOnly.push('order')
      if (rawOnly.length) this.fail(`${rawOnly.map((f) => `--${f}`).join(', ')}: only for raw rows (without --step and --plot)`, 'TPIPE_ERR_USAGE')
    } else if (flags.agg) this.fail('--agg: only with --step (or --plot)', 'TPIPE_ERR_USAGE')
    if (flags.step) flagDuration('step', flags.step)
    const path = `/api/v1/gpus/${encodeURIComponent(args.id)}/telemetry`

    if (flags.plot) {
      const metrics = flags.metric ?? [...KEY_METRICS]
      const width = process.stdout.columns || 100
      const endMs = window.endMs ?? now
      const spanSeconds = (endMs - (window.startMs ?? endMs - 3_600_000)) / 1000
      const answer = await withApiClient(this, config.apiUrl, (client) =>
        client.get<GpuSeriesAnswer>(path, plotQuery({ window: window.query, spanSeconds, step: flags.step, agg: flags.agg, metrics }, width)),
      )
      if (!this.jsonEnabled()) this.log(plotAnswer(answer, metrics, { width, color: Boolean(process.stdout.isTTY) }))
      return answer
    }

    if (flags.step) {
      const q: [string, string][] = [...(flags.metric ?? []).map((m): [string, string] => ['metric', m]), ...window.query, ['step', flags.step], ['agg', flags.agg ?? 'avg']]
      const answer = await withApiClient(this, config.apiUrl, (client) => client.get<GpuSeriesAnswer>(path, q))
      if (!this.jsonEnabled()) {
        const rows: Bucket[] = answer.series.flatMap((s) => s.points.map(([t, value]) => ({ metric: s.metric, t, value })))
        const columns: Column<Bucket>[] = [
          ['time', (b) => new Date(b.t * 1000).toISOString()],
          ['metric_name', (b) => b.metric],
          [answer.agg, (b) => b.value],
        ]
        if (flags.output === 'json') this.log(JSON.stringify(answer, null, 2))
        else if (flags.output === 'csv') this.log([csvHeader(columns), ...csvRows(rows, columns)].join('\n'))
        else this.log(rows.length ? table(rows, columns) : `no samples between ${answer.start} and ${answer.end}`)
      }
      return answer
    }

    const columns = flags.detail ? [...COLUMNS, ...DETAIL] : COLUMNS
    const order = flags.order === 'asc' ? 'asc' : 'desc'
    const rows: TelemetryRow[] = []
    let cursor = flags.cursor
    let next: string | null = null
    const csv = flags.output === 'csv' && !this.jsonEnabled()
    let first = true
    await withApiClient(this, config.apiUrl, async (client) => {
      do {
        const page = await client.telemetry(args.id, { window: window.query, order, metrics: flags.metric, limit: flags.limit, cursor, detail: flags.detail })
        next = page.next_cursor
        // CSV streams page by page, so --all over a long history does not wait for (or hold) everything.
        if (csv) {
          const lines = [...(first ? [csvHeader(columns)] : []), ...csvRows(page.telemetry, columns)]
          if (lines.length) this.log(lines.join('\n'))
        } else rows.push(...page.telemetry)
        first = false
        cursor = next ?? undefined
      } while (flags.all && next)
    })
    const result: TelemetryPage = { id: args.id, telemetry: rows, next_cursor: next }
    if (!this.jsonEnabled()) {
      if (flags.output === 'json') this.log(JSON.stringify(result, null, 2))
      else if (!csv) this.log(rows.length ? table(rows, columns) : 'no telemetry in that window')
      if (next && !flags.all) this.logToStderr(`more rows: add --all, or --cursor ${next}`)
    }
    return result
  }
}
