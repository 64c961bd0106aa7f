import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { ensureEmbedded, type EmbeddedStatus } from '../../src/db/index.js'

export default class DbStart extends TpipeCommand {
  static override summary = 'Start the embedded PostgreSQL under TPIPE_HOME (initialise it first if needed); no-op when running.'
  static override enableJsonFlag = true
  static override flags = settingFlags('cli')

  async run(): Promise<EmbeddedStatus> {
    const { flags } = await this.parse(DbStart)
    const config = this.loadConfigFrom(flags, 'cli')
    const status = await ensureEmbedded(config.home, (m) => this.logToStderr(m))
    this.log(`${status.running ? "running" : "stopped"}${status.initialised ? "" : " (not initialised)"}  port ${status.port}  data ${status.dataDir}  url ${status.url}`)
    return status
  }
}
