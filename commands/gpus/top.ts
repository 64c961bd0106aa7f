import { Flags } from '@oclif/core'
import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { withApiClient } from '../../src/cli/api.js'
import { csvHeader, csvRows, table, type Column } from '../../src/apigw/format.js'
import type { FleetGpu, FleetList } from '../../src/protocol/series.js'

export default class GpusTop extends TpipeCommand {
  static override summary = 'The GPUs with the highest (or lowest) latest value of a metric, from the latest-value table via apigw.'
  static override examples = ['<%= config.bin %> gpus top --metric DCGM_FI_DEV_GPU_UTIL --limit 10', '<%= config.bin %> gpus top --metric DCGM_FI_DEV_GPU_TEMP --order asc --hostname host-1 -o csv']
  static override enableJsonFlag = true
  static override flags = {
    'api-url': settingFlags('cli')['api-url']!,
    metric: Flags.string({ description: 'Metric to rank by (its latest value).', required: true }),
    limit: Flags.integer({ description: 'How many GPUs.', default: 10, min: 1, max: 10000 }),
    order: Flags.string({ description: 'desc: highest first.', options: ['desc', 'asc'], default: 'desc' }),
    hostname: Flags.string({ description: 'Only GPUs of this host.' }),
    model: Flags.string({ description: 'Only GPUs of this model.' }),
    output: Flags.string({ char: 'o', description: 'Output format.', options: ['table', 'json', 'csv'], default: 'table' }),
  }

  async run(): Promise<FleetList> {
    const { flags } = await this.parse(GpusTop)
    const config = this.loadConfigFrom(flags, 'cli')
    const q: [string, string][] = [['metrics', flags.metric], ['sort', flags.metric], ['order', flags.order], ['limit', String(flags.limit)]]
    if (flags.hostname) q.push(['hostname', flags.hostname])
    if (flags.model) q.push(['model', flags.model])
    const result = await withApiClient(this, config.apiUrl, (client) => client.get<FleetList>('/api/v1/gpus', q))
    const columns: Column<FleetGpu>[] = [
      ['id', (g) => g.id],
      ['hostname', (g) => g.hostname],
      ['gpu_id', (g) => g.gpu_id],
      ['model_name', (g) => g.model_name],
      [flags.metric, (g) => g.latest?.[flags.metric]?.value],
      ['ts', (g) => g.latest?.[flags.metric]?.ts],
    ]
    if (!this.jsonEnabled()) {
      if (flags.output === 'json') this.log(JSON.stringify(result, null, 2))
      else if (flags.output === 'csv') this.log([csvHeader(columns), ...csvRows(result.gpus, columns)].join('\n'))
      else this.log(result.gpus.length ? table(result.gpus, columns) : 'no GPUs match')
    }
    return result
  }
}
