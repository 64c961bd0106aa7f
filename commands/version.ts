import { TpipeCommand } from '../src/cli/base.js'

export default class Version extends TpipeCommand {
  static override summary = 'Print the tpipe version (the same as `tpipe --version`).'
  static override enableJsonFlag = true

  async run(): Promise<{ version: string; node: string; platform: string }> {
    await this.parse(Version)
    this.log(this.config.userAgent)
    return { version: this.config.version, node: process.version, platform: `${process.platform}-${process.arch}` }
  }
}
