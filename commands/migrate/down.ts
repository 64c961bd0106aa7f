import { Flags } from '@oclif/core'
import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { migrate, useDatabase, type MigrationRun } from '../../src/db/index.js'

export default class MigrateDown extends TpipeCommand {
  static override summary = 'Revert the last migration (or --count N, or --all).'
  static override enableJsonFlag = true
  static override flags = {
    ...settingFlags('cli'),
    count: Flags.integer({ description: 'Revert this many migrations.', min: 1, default: 1 }),
    all: Flags.boolean({ description: 'Revert every migration (drops all tpipe tables and their data).' }),
  }

  async run(): Promise<MigrationRun> {
    const { flags } = await this.parse(MigrateDown)
    const config = this.loadConfigFrom(flags, 'cli')
    const db = await useDatabase(config, (m) => this.logToStderr(m))
    const url = db.url
    try {
      const result = await migrate(url, 'down', { count: flags.all ? Infinity : flags.count })
      this.log(result.applied.length ? `reverted: ${result.applied.join(', ')}` : 'nothing to revert')
      return result
    } finally {
      await db.release()
    }
  }
}
