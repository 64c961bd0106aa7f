import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { embeddedStatus, type EmbeddedStatus } from '../../src/db/index.js'

export default class DbStatus extends TpipeCommand {
  static override summary = 'Show whether the embedded PostgreSQL is initialised and running, where, and on which port.'
  static override enableJsonFlag = true
  static override flags = settingFlags('cli')

  async run(): Promise<EmbeddedStatus> {
    const { flags } = await this.parse(DbStatus)
    const config = this.loadConfigFrom(flags, 'cli')
    const status = await embeddedStatus(config.home)
    this.log(`${status.running ? "running" : "stopped"}${status.initialised ? "" : " (not initialised)"}  port ${status.port}  data ${status.dataDir}  url ${status.url}`)
    return status
  }
}
