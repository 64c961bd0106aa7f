import { Command } from '@oclif/core'
import { ConfigError, loadConfig, type Config, type Scope } from '../config/index.js'

/** Base for commands: loads the config from flags + env once and turns ConfigErrors into clear exits. */
export abstract class TpipeCommand extends Command {
  protected loadConfigFrom(flags: Record<string, unknown>, scope: Scope): Config {
    try {
      return loadConfig(flags as Record<string, string | undefined>, process.env, scope)
    } catch (err) {
      if (err instanceof ConfigError) this.error(err.message, { exit: 2, suggestions: ['tpipe <command> --help lists every setting with its env var'] })
      throw err
    }
  }
}
