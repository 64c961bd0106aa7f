import { Command } from '@oclif/core'
import { CLI_ERRORS, type CliErrorCode } from '../errors.js'
import { ConfigError, loadConfig, type Config, type Scope } from '../config/index.js'

/**
 * A failure the command reports itself: one unwrapped line on stderr (`Error: …`), or with --json
 * `{ "error": { "code", "message", "exit" } }` on stdout; the process exits with `exit` either way.
 * `code` is a CLI code (errors.ts CLI_ERRORS) or the TPIPE_ERR_* code an API answered with.
 */
export class CliFailure extends Error {
  readonly exit: number
  constructor(
    message: string,
    readonly code: CliErrorCode | string = 'TPIPE_ERR_FAILED',
    exit?: number,
  ) {
    super(message)
    this.name = 'CliFailure'
    this.exit = exit ?? CLI_ERRORS[code as CliErrorCode]?.exit ?? 1
  }
}

/** What oclif's own errors carry: a message, maybe an exit code and a code such as EEXIT. */
interface OclifError extends Error {
  code?: string
  oclif?: { exit?: number }
}

/** Base for commands: loads the config from flags + env once and turns ConfigErrors into clear exits. */
export abstract class TpipeCommand extends Command {
  protected loadConfigFrom(flags: Record<string, unknown>, scope: Scope): Config {
    try {
      return loadConfig(flags as Record<string, string | undefined>, process.env, scope)
    } catch (err) {
      if (err instanceof ConfigError) throw new CliFailure(`${err.message} (\`tpipe ${this.id?.replace(/:/g, ' ') ?? ''} --help\` lists every setting with its env var)`, 'TPIPE_ERR_CONFIG')
      throw err
    }
  }

  /** Ends the command with a failure (see CliFailure). */
  protected fail(message: string, code: CliErrorCode | string = 'TPIPE_ERR_FAILED', exit?: number): never {
    throw new CliFailure(message, code, exit)
  }

  override async catch(err: OclifError): Promise<void> {
    if (err instanceof CliFailure) {
      process.exitCode = err.exit
      if (this.jsonEnabled()) this.logJson({ error: { code: err.code, message: err.message, exit: err.exit } })
      else this.logToStderr(`Error: ${err.message}`)
      return
    }
    if (this.jsonEnabled()) {
      // oclif's errors (this.error, flag parsing) as JSON with their real message and exit code.
      const exit = err.oclif?.exit ?? 1
      process.exitCode = exit
      const code = exit === 2 ? 'TPIPE_ERR_USAGE' : err.code?.startsWith('TPIPE_ERR') ? err.code : 'TPIPE_ERR_FAILED'
      this.logJson({ error: { code, message: err.message, exit } })
      return
    }
    return super.catch(err)
  }
}
