import { Args, Flags } from '@oclif/core'
import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import type { TelemetryPage, TelemetryRow } from '../../src/protocol/apigw.js'
import { withApiClient } from '../../src/cli/api.js'
import { csvHeader, csvRows, table, type Column } from '../../src/apigw/format.js'
import { plotAnswer, plotQuery, type GpuSeriesAnswer } from '../../src/cli/plot.js'
import { KEY_METRICS } from '../../src/web/metrics.js'

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

export default class GpusTelemetry extends TpipeCommand {
  static override summary = 'Show the telemetry of one GPU (by its uuid), in time order, from a running apigw.'
  static override examples = [
    '<%= config.bin %> gpus telemetry GPU-5fd4f087-86f3-7a43-b711-4771313afc50 --start 2025-07-18T20:00:00Z --end 2025-07-18T21:00:00Z',
    '<%= config.bin %> gpus telemetry GPU-5fd4f087-86f3-7a43-b711-4771313afc50 --metric DCGM_FI_DEV_GPU_UTIL --metric DCGM_FI_DEV_GPU_TEMP --all --output csv',
  ]
  static override enableJsonFlag = true
  static override args = { id: Args.string({ description: 'GPU uuid (GPU-…), as listed by `tpipe gpus list`.', required: true }) }
  static override flags = {
    'api-url': settingFlags('cli')['api-url']!,
    start: Flags.string({ description: 'Inclusive start time (RFC 3339).' }),
    end: Flags.string({ description: 'Inclusive end time (RFC 3339).' }),
    metric: Flags.string({ description: 'Only this metric; repeat for several.', multiple: true }),
    limit: Flags.integer({ description: 'Rows per page (1..10000; apigw default 1000).', min: 1, max: 10000 }),
    cursor: Flags.string({ description: 'Start at this next_cursor of an earlier page.' }),
    all: Flags.boolean({ description: 'Follow next_cursor until the last page.' }),
    detail: Flags.boolean({ description: 'Also show container, pod, namespace and labels (slower on large tables).' }),
    output: Flags.string({ char: 'o', description: 'Output format.', options: ['table', 'json', 'csv'], default: 'table' }),
    plot: Flags.boolean({
      description: 'Draw a line chart per metric (default: utilisation, memory used, temperature, power) as wide as the terminal, over --start/--end (default the last hour), from the bucketed API.',
    }),
  }

  async run(): Promise<TelemetryPage | GpuSeriesAnswer> {
    const { args, flags } = await this.parse(GpusTelemetry)
    const config = this.loadConfigFrom(flags, 'cli')
    if (flags.plot) {
      const metrics = flags.metric ?? [...KEY_METRICS]
      const width = process.stdout.columns || 100
      const answer = await withApiClient(this, config.apiUrl, (client) =>
        client.get<GpuSeriesAnswer>(`/api/v1/gpus/${encodeURIComponent(args.id)}/telemetry`, plotQuery({ start: flags.start, end: flags.end, metrics }, width)),
      )
      if (!this.jsonEnabled()) this.log(plotAnswer(answer, metrics, { width, color: Boolean(process.stdout.isTTY) }))
      return answer
    }
    const columns = flags.detail ? [...COLUMNS, ...DETAIL] : COLUMNS
    const rows: TelemetryRow[] = []
    let cursor = flags.cursor
    let next: string | null = null
    const csv = flags.output === 'csv' && !this.jsonEnabled()
    let first = true
    await withApiClient(this, config.apiUrl, async (client) => {
      do {
        const page = await client.telemetry(args.id, { start: flags.start, end: flags.end, metrics: flags.metric, limit: flags.limit, cursor, detail: flags.detail })
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
