import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { ensureEmbedded, type EmbeddedStatus } from '../../src/db/index.js'

export default class DbUrl extends TpipeCommand {
  static override summary = 'Print the connection URL of the embedded PostgreSQL (starting it when it is not running).'
  static override enableJsonFlag = true
  static override flags = settingFlags('cli')

  async run(): Promise<EmbeddedStatus> {
    const { flags } = await this.parse(DbUrl)
    const config = this.loadConfigFrom(flags, 'cli')
    const status = await ensureEmbedded(config.home, (m) => this.logToStderr(m))
    this.log(status.url)
    return status
  }
}
