import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { buildPartitionController } from '../../src/controller/app.js'
import { runService } from '../../src/http/run.js'

export default class ServePartitionController extends TpipeCommand {
  static override summary = 'Run the partition-controller: leader-elected, watches the mqreader StatefulSet and writes the mqreader-partitions ConfigMap.'
  static override flags = settingFlags('partition-controller')

  async run(): Promise<void> {
    const { flags } = await this.parse(ServePartitionController)
    const config = this.loadConfigFrom(flags, 'partition-controller')
    await runService({
      service: 'partition-controller',
      config,
      build: ({ log }) => buildPartitionController(config, { logger: log }),
    })
  }
}
