import { Flags } from '@oclif/core'
import { TpipeCommand } from '../src/cli/base.js'
import { settingFlags } from '../src/cli/flags.js'
import { withApiClient } from '../src/cli/api.js'
import { csvHeader, csvRows, table, type Column } from '../src/apigw/format.js'
import type { FleetSeries } from '../src/protocol/series.js'
import { flagDuration, TIME_FORMS, windowParams } from '../src/cli/time.js'

interface Line {
  group: string
  t: number
  value: number
}

export default class Telemetry extends TpipeCommand {
  static override summary = 'One metric across the fleet, bucketed and grouped by GPU, host or model (GET /api/v1/telemetry).'
  static override examples = ['<%= config.bin %> telemetry --metric DCGM_FI_DEV_POWER_USAGE --group-by hostname --step 5m --since 1h', '<%= config.bin %> telemetry --metric DCGM_FI_DEV_GPU_UTIL --agg max --since 24h --step 1h -o csv']
  static override description = `Times (--start, --end): ${TIME_FORMS}. Write a relative time as --start=-1h or --start "1h ago". Without a window: the last hour.`
  static override enableJsonFlag = true
  static override flags = {
    'api-url': settingFlags('cli')['api-url']!,
    metric: Flags.string({ description: 'The metric.', required: true }),
    'group-by': Flags.string({ description: 'One series per GPU, host or model.', options: ['gpu', 'hostname', 'model'], default: 'gpu' }),
    step: Flags.string({ description: 'Bucket width (60s, 5m, 1h).', default: '1m' }),
    agg: Flags.string({ description: 'Aggregate per bucket.', options: ['avg', 'min', 'max', 'last', 'count'], default: 'avg' }),
    since: Flags.string({ description: 'Window of this length ending now or at --end (15m, 1h, 7d).' }),
    start: Flags.string({ description: 'Start of the window: RFC 3339, a date, now, today, yesterday, -1h, "2h ago".' }),
    end: Flags.string({ description: 'End of the window, in the same forms as --start.' }),
    hostname: Flags.string({ description: 'Only GPUs of this host.' }),
    model: Flags.string({ description: 'Only GPUs of this model.' }),
    output: Flags.string({ char: 'o', description: 'Output format.', options: ['table', 'json', 'csv'], default: 'table' }),
  }

  async run(): Promise<FleetSeries> {
    const { flags } = await this.parse(Telemetry)
    const config = this.loadConfigFrom(flags, 'cli')
    flagDuration('step', flags.step)
    const q: [string, string][] = [['metric', flags.metric], ['group_by', flags['group-by']], ['step', flags.step], ['agg', flags.agg], ...windowParams(flags).query]
    if (flags.hostname) q.push(['hostname', flags.hostname])
    if (flags.model) q.push(['model', flags.model])
    const result = await withApiClient(this, config.apiUrl, (client) => client.get<FleetSeries>('/api/v1/telemetry', q))
    const lines: Line[] = result.series.flatMap((s) => s.points.map(([t, value]) => ({ group: s.group, t, value })))
    const columns: Column<Line>[] = [
      [flags['group-by'], (l) => l.group],
      ['time', (l) => new Date(l.t * 1000).toISOString()],
      [`${flags.agg}(${flags.metric})`, (l) => l.value],
    ]
    if (!this.jsonEnabled()) {
      if (flags.output === 'json') this.log(JSON.stringify(result, null, 2))
      else if (flags.output === 'csv') this.log([csvHeader(columns), ...csvRows(lines, columns)].join('\n'))
      else this.log(lines.length ? table(lines, columns) : 'no samples in that window')
    }
    return result
  }
}
