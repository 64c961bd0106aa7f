import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { buildCollector } from '../../src/collector/app.js'
import { runService } from '../../src/http/run.js'

export default class ServeCollector extends TpipeCommand {
  static override summary = 'Run a collector: lease telemetry from the readers, write it to the telemetry table exactly once in effect, ack.'
  static override examples = ['<%= config.bin %> serve collector --readers http://localhost:8081,http://localhost:8082']
  static override flags = settingFlags('collector')

  async run(): Promise<void> {
    const { flags } = await this.parse(ServeCollector)
    const config = this.loadConfigFrom(flags, 'collector')
    await runService({
      service: 'collector',
      config,
      database: {},
      build: ({ pool, log }) => buildCollector(config, { pool, logger: log }),
    })
  }
}
