import { Flags } from '@oclif/core'
import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { resetEmbedded } from '../../src/db/index.js'
import { runningInstance } from '../../src/local/lock.js'

const { home } = settingFlags('cli')

export default class DbReset extends TpipeCommand {
  static override summary = 'Start over: stop the embedded PostgreSQL and delete its data (every queued message and telemetry row).'
  static override description = 'Refused while a `tpipe dev` runs on the same TPIPE_HOME. The next `tpipe dev` or `tpipe db start` initialises a fresh database.'
  static override examples = ['<%= config.bin %> db reset --yes', 'TPIPE_HOME=/tmp/scratch <%= config.bin %> db reset --yes']
  static override enableJsonFlag = true
  static override flags = {
    home: home!,
    yes: Flags.boolean({ description: 'really delete the data (without it, only says what would be deleted)', default: false }),
  }

  async run(): Promise<{ removed: string }> {
    const { flags } = await this.parse(DbReset)
    const config = this.loadConfigFrom({ home: flags.home }, 'cli')
    const running = await runningInstance(config.home)
    if (running) this.error(`a tpipe dev (pid ${running.pid}) is running on ${config.home}: stop it first (Ctrl-C in its terminal)`, { exit: 3 })
    if (!flags.yes) {
      this.error(`this stops the embedded PostgreSQL of ${config.home} and deletes its data; run again with --yes to do it`, { exit: 2 })
    }
    const r = await resetEmbedded(config.home)
    this.log(`embedded PostgreSQL of ${config.home} stopped and its data (${r.removed}) deleted; the next start initialises a fresh one`)
    return r
  }
}
