import { Flags } from '@oclif/core'
import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { migrate, useDatabase, type MigrationRun } from '../../src/db/index.js'

export default class MigrateUp extends TpipeCommand {
  static override summary = 'Apply pending migrations (advisory-locked: concurrent runs wait, then find nothing to do).'
  static override enableJsonFlag = true
  static override flags = {
    ...settingFlags('cli'),
    count: Flags.integer({ description: 'Apply at most this many migrations.', min: 1 }),
  }

  async run(): Promise<MigrationRun> {
    const { flags } = await this.parse(MigrateUp)
    const config = this.loadConfigFrom(flags, 'cli')
    const db = await useDatabase(config, (m) => this.logToStderr(m))
    const url = db.url
    try {
      const result = await migrate(url, 'up', flags.count ? { count: flags.count } : {})
      this.log(result.applied.length ? `applied: ${result.applied.join(', ')}` : 'nothing to apply: the schema is up to date')
      return result
    } finally {
      await db.release()
    }
  }
}
