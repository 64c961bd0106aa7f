import { Flags } from '@oclif/core'
import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import type { Gpu } from '../../src/protocol/apigw.js'
import { withApiClient } from '../../src/cli/api.js'
import { csvHeader, csvRows, table, type Column } from '../../src/apigw/format.js'

const COLUMNS: Column<Gpu>[] = [
  ['id', (g) => g.id],
  ['hostname', (g) => g.hostname],
  ['gpu_id', (g) => g.gpu_id],
  ['device', (g) => g.device],
  ['model_name', (g) => g.model_name],
  ['last_seen', (g) => g.last_seen],
]

export default class GpusList extends TpipeCommand {
  static override summary = 'List every GPU that has telemetry (from a running apigw).'
  static override examples = [
    '<%= config.bin %> gpus list',
    '<%= config.bin %> gpus list --hostname mtv5-dgx1-hgpu-031',
    '<%= config.bin %> gpus list --model "NVIDIA H100 80GB HBM3" --output csv',
    '<%= config.bin %> gpus list --api-url http://apigw:8080 --json',
  ]
  static override enableJsonFlag = true
  static override flags = {
    'api-url': settingFlags('cli')['api-url']!,
    hostname: Flags.string({ description: 'Only GPUs of this host (exact name).' }),
    model: Flags.string({ description: 'Only GPUs of this model (exact model_name).' }),
    output: Flags.string({ char: 'o', description: 'Output format.', options: ['table', 'json', 'csv'], default: 'table' }),
  }

  async run(): Promise<{ gpus: Gpu[] }> {
    const { flags } = await this.parse(GpusList)
    const config = this.loadConfigFrom(flags, 'cli')
    const gpus = await withApiClient(this, config.apiUrl, (client) => client.gpus({ hostname: flags.hostname, model: flags.model }))
    if (!this.jsonEnabled()) {
      if (flags.output === 'json') this.log(JSON.stringify({ gpus }, null, 2))
      else if (flags.output === 'csv') this.log([csvHeader(COLUMNS), ...csvRows(gpus, COLUMNS)].join('\n'))
      else this.log(gpus.length ? table(gpus, COLUMNS) : flags.hostname || flags.model ? 'no GPUs match' : 'no GPUs with telemetry yet')
    }
    return { gpus }
  }
}
