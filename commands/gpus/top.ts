import { Flags } from '@oclif/core'
import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { withApiClient } from '../../src/cli/api.js'
import { csvHeader, csvRows, table, type Column } from '../../src/apigw/format.js'
import type { FleetGpu, FleetList } from '../../src/protocol/series.js'
import { watch } from '../../src/cli/watch.js'

export default class GpusTop extends TpipeCommand {
  static override summary = 'The GPUs with the highest (or lowest) latest value of a metric, from the latest-value table via apigw.'
  static override description = 'With --watch the view is redrawn in place every --interval seconds, like top(1): q or Ctrl-C quits and gives the terminal back as it was. Piped, every refresh is printed in turn (like `top -b`).'
  static override examples = [
    '<%= config.bin %> gpus top --metric DCGM_FI_DEV_GPU_UTIL --limit 10',
    '<%= config.bin %> gpus top --metric DCGM_FI_DEV_GPU_TEMP --order asc --hostname mtv5-dgx1-hgpu-031 -o csv',
    '<%= config.bin %> gpus top --metric DCGM_FI_DEV_POWER_USAGE --watch --interval 5',
  ]
  static override enableJsonFlag = true
  static override flags = {
    'api-url': settingFlags('cli')['api-url']!,
    metric: Flags.string({ description: 'Metric to rank by (its latest value).', required: true }),
    limit: Flags.integer({ description: 'How many GPUs.', default: 10, min: 1, max: 10000 }),
    order: Flags.string({ description: 'desc: highest first.', options: ['desc', 'asc'], default: 'desc' }),
    hostname: Flags.string({ description: 'Only GPUs of this host.' }),
    model: Flags.string({ description: 'Only GPUs of this model.' }),
    output: Flags.string({ char: 'o', description: 'Output format.', options: ['table', 'json', 'csv'], default: 'table' }),
    watch: Flags.boolean({ char: 'w', description: 'Refresh in place until q or Ctrl-C.' }),
    interval: Flags.integer({ description: 'Seconds between refreshes with --watch.', default: 2, min: 1, max: 3600 }),
    iterations: Flags.integer({ description: 'With --watch: stop after this many refreshes.', min: 1 }),
  }

  async run(): Promise<FleetList> {
    const { flags } = await this.parse(GpusTop)
    const config = this.loadConfigFrom(flags, 'cli')
    if (!flags.watch && flags.iterations !== undefined) this.fail('--iterations: only with --watch', 'TPIPE_ERR_USAGE')
    if (flags.watch && this.jsonEnabled()) this.fail('--json: not with --watch (use --output json for a JSON document per refresh)', 'TPIPE_ERR_USAGE')
    const q: [string, string][] = [['metrics', flags.metric], ['sort', flags.metric], ['order', flags.order], ['limit', String(flags.limit)]]
    if (flags.hostname) q.push(['hostname', flags.hostname])
    if (flags.model) q.push(['model', flags.model])
    const columns: Column<FleetGpu>[] = [
      ['id', (g) => g.id],
      ['hostname', (g) => g.hostname],
      ['gpu_id', (g) => g.gpu_id],
      ['model_name', (g) => g.model_name],
      [flags.metric, (g) => g.latest?.[flags.metric]?.value],
      ['ts', (g) => g.latest?.[flags.metric]?.ts],
    ]
    // The table (what --watch redraws) shows the sample time to the second, so a row fits 100 columns.
    const tableColumns: Column<FleetGpu>[] = [...columns.slice(0, -1), ['ts', (g) => g.latest?.[flags.metric]?.ts.replace(/\.\d+Z$/, 'Z')]]
    const text = (result: FleetList) => {
      if (flags.output === 'json') return JSON.stringify(result, null, 2)
      if (flags.output === 'csv') return [csvHeader(columns), ...csvRows(result.gpus, columns)].join('\n')
      return result.gpus.length ? table(result.gpus, tableColumns) : 'no GPUs match'
    }
    let result: FleetList = { gpus: [] }
    if (flags.watch) {
      // One client for the whole watch (a kept-alive connection); a failed refresh is shown and retried.
      await withApiClient(this, config.apiUrl, (client) =>
        watch(async () => text((result = await client.get<FleetList>('/api/v1/gpus', q))), { intervalMs: flags.interval * 1000, title: `top ${flags.limit} by ${flags.metric} (${flags.order})`, ...(flags.iterations ? { iterations: flags.iterations } : {}) }),
      )
      return result
    }
    result = await withApiClient(this, config.apiUrl, (client) => client.get<FleetList>('/api/v1/gpus', q))
    if (!this.jsonEnabled()) this.log(text(result))
    return result
  }
}
