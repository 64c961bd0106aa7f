import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { resolveDatabaseUrl } from '../../src/db/index.js'
import { runService } from '../../src/http/run.js'
import { buildMqreader } from '../../src/mqreader/app.js'

export default class ServeMqreader extends TpipeCommand {
  static override summary = 'Run mqreader: owns a set of partitions (fenced by advisory locks) and leases their messages (POST /v1/lease, /v1/ack).'
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
      needsDatabase: true,
      build: async ({ pool, log }) => {
        // Same URL the pool uses (the embedded server is already running by now); the lock session needs it.
        const databaseUrl = await resolveDatabaseUrl(config)
        return buildMqreader(config, { pool: pool!, logger: log, databaseUrl }).app
      },
    })
  }
}
