import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { runService } from '../../src/http/run.js'
import { buildMqreader } from '../../src/mqreader/app.js'

export default class ServeMqreader extends TpipeCommand {
  static override summary = 'Run mqreader: owns a set of partitions (fenced by advisory locks) and leases their messages (POST /v1/lease, /v1/ack, /v1/release).'
  static override examples = [
    '<%= config.bin %> serve mqreader --partitions 0-127',
    '<%= config.bin %> serve mqreader --assignment-file /etc/tpipe/partitions.json --reader-name mqreader-0',
  ]
  static override flags = settingFlags('mqreader')

  async run(): Promise<void> {
    const { flags } = await this.parse(ServeMqreader)
    const config = this.loadConfigFrom(flags, 'mqreader')
    await runService({
      service: 'mqreader',
      config,
      database: {},
      // The lock session connects to the same URL as the pool (resolved once by runService).
      build: ({ pool, log, databaseUrl }) => buildMqreader(config, { pool, logger: log, databaseUrl }),
    })
  }
}
