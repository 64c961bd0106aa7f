import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { migrationStatus, useDatabase, type MigrationStatus } from '../../src/db/index.js'

export default class MigrateStatus extends TpipeCommand {
  static override summary = 'List migrations and whether each is applied.'
  static override enableJsonFlag = true
  static override flags = settingFlags('cli')

  async run(): Promise<{ migrations: MigrationStatus[]; pending: number }> {
    const { flags } = await this.parse(MigrateStatus)
    const config = this.loadConfigFrom(flags, 'cli')
    const db = await useDatabase(config, (m) => this.logToStderr(m))
    const url = db.url
    try {
      const migrations = await migrationStatus(url)
      for (const m of migrations) this.log(`${m.applied ? 'applied ' : 'pending '} ${m.name}${m.runOn ? `  (${m.runOn})` : ''}`)
      const pending = migrations.filter((m) => !m.applied).length
      this.log(pending ? `${pending} pending` : 'up to date')
      return { migrations, pending }
    } finally {
      await db.release()
    }
  }
}
