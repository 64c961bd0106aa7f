import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { stopEmbedded, type EmbeddedStatus } from '../../src/db/index.js'

export default class DbStop extends TpipeCommand {
  static override summary = 'Stop the embedded PostgreSQL (fast shutdown); no-op when stopped.'
  static override enableJsonFlag = true
  static override flags = settingFlags('cli')

  async run(): Promise<EmbeddedStatus> {
    const { flags } = await this.parse(DbStop)
    const config = this.loadConfigFrom(flags, 'cli')
    const status = await stopEmbedded(config.home)
    this.log(`${status.running ? "running" : "stopped"}${status.initialised ? "" : " (not initialised)"}  port ${status.port}  data ${status.dataDir}  url ${status.url}`)
    return status
  }
}
