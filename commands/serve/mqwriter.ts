import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { runService } from '../../src/http/run.js'
import { buildMqwriter } from '../../src/mqwriter/app.js'

export default class ServeMqwriter extends TpipeCommand {
  static override summary = 'Run mqwriter: the write side of the queue (POST /v1/publish, group commit to PostgreSQL).'
  static override flags = settingFlags('mqwriter')

  async run(): Promise<void> {
    const { flags } = await this.parse(ServeMqwriter)
    const config = this.loadConfigFrom(flags, 'mqwriter')
    await runService({
      service: 'mqwriter',
      config,
      database: {},
      build: ({ pool, log }) => buildMqwriter(config, { pool, logger: log }),
    })
  }
}
