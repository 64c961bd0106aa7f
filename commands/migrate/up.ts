import { Flags } from '@oclif/core'
import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { collationWarning, migrate, useDatabase, type MigrationRun } from '../../src/db/index.js'
import { loginEnv, provisionServiceLogins, rolePasswordsFile, type DbService } from '../../src/db/roles.js'

export default class MigrateUp extends TpipeCommand {
  static override summary = 'Apply pending migrations (advisory-locked: concurrent runs wait, then find nothing to do).'
  static override description = `Run as the owner of the schema. With --roles, then creates or updates the LOGIN user each service connects as (mqwriter, mqreader, collector, apigw: members of the tpipe_<service> roles the migrations grant exactly their part; README › Security). Each user's name and password come from ${loginEnv('collector').user.replace('COLLECTOR', '<SERVICE>')} / ${loginEnv('collector').password.replace('COLLECTOR', '<SERVICE>')} when set (the charts' migration Job passes them from each service's Secret), else the name is <database>_<service>_login and the password is random, kept (mode 0600) in <TPIPE_HOME>/service-roles.json. Needs CREATEROLE.`
  static override enableJsonFlag = true
  static override flags = {
    ...settingFlags('cli'),
    count: Flags.integer({ description: 'Apply at most this many migrations.', min: 1 }),
    roles: Flags.boolean({ description: 'Also create/update the login user of each service (least-privilege roles).', default: false }),
  }

  async run(): Promise<MigrationRun & { roles?: { service: DbService; user: string }[] }> {
    const { flags } = await this.parse(MigrateUp)
    const config = this.loadConfigFrom(flags, 'cli')
    const db = await useDatabase(config, (m) => this.logToStderr(m))
    const url = db.url
    try {
      const result = await migrate(url, 'up', flags.count ? { count: flags.count } : {})
      this.log(result.applied.length ? `applied: ${result.applied.join(', ')}` : 'nothing to apply: the schema is up to date')
      for (const n of result.notices) this.log(`notice: ${n}`)
      const advice = collationWarning(new URL(url).pathname.slice(1) || 'the database', result.collation)
      if (advice) this.warn(advice)
      if (!flags.roles) return result
      const logins = await provisionServiceLogins(url, { home: config.home })
      for (const l of logins) this.log(`service user ${l.user} (${l.service})`)
      if (logins.some((l) => !process.env[loginEnv(l.service).password])) this.log(`passwords not given in the environment are in ${rolePasswordsFile(config.home)}`)
      return { ...result, roles: logins.map(({ service, user }) => ({ service, user })) }
    } finally {
      await db.release()
    }
  }
}
