import { Flags } from '@oclif/core'
import { TpipeCommand } from '../src/cli/base.js'
import { type DownResult, runDown } from '../src/cluster/down.js'
import { CommandFailed, execaExecutor } from '../src/cluster/exec.js'
import { checkTools, preflightMessage } from '../src/cluster/tools.js'

export default class Down extends TpipeCommand {
  static override summary = 'Delete the kind cluster that `tpipe up` created; succeeds when there is none.'
  static override enableJsonFlag = true
  static override flags = {
    name: Flags.string({ description: 'kind cluster name.', default: 'tpipe' }),
  }

  async run(): Promise<DownResult> {
    const { flags } = await this.parse(Down)
    const msg = preflightMessage(await checkTools(['kind']))
    if (msg) this.error(msg, { exit: 1 })
    try {
      const result = await runDown(flags.name, execaExecutor())
      this.log(result.message)
      return result
    } catch (err) {
      if (err instanceof CommandFailed) this.error(err.message, { exit: 1 })
      throw err
    }
  }
}
