// Running the external commands of `tpipe up` / `tpipe down` (docker, kind, helm, kubectl) through execa,
// with each command's output captured so a failure can show what the tool said.
import { execa } from 'execa'

export interface CommandSpec {
  /** The program as shown to people ("helm"); resolved to a path through `tools` when run. */
  tool: string
  args: readonly string[]
  /** Text fed to stdin (a rendered manifest for `kubectl apply -f -`). */
  input?: string
}

export interface CommandResult {
  command: string
  exitCode: number
  stdout: string
  stderr: string
  /** stdout and stderr interleaved, as the tool printed them. */
  all: string
}

/** Runs commands; the tests replace it with a recorder. */
export type Executor = (spec: CommandSpec) => Promise<CommandResult>

function quote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`
}

export function display(spec: Pick<CommandSpec, 'tool' | 'args'>): string {
  return [spec.tool, ...spec.args].map(quote).join(' ')
}

/** An executor on execa; `paths` maps tool names to binaries (e.g. the bundled helm). */
export function execaExecutor(paths: Readonly<Record<string, string>> = {}, env: NodeJS.ProcessEnv = process.env): Executor {
  return async (spec) => {
    const res = await execa(paths[spec.tool] ?? spec.tool, [...spec.args], {
      reject: false,
      all: true,
      env,
      extendEnv: false,
      stripFinalNewline: true,
      ...(spec.input !== undefined ? { input: spec.input } : { stdin: 'ignore' as const }),
    })
    return {
      command: display(spec),
      exitCode: res.exitCode ?? (res.failed ? 1 : 0),
      stdout: String(res.stdout ?? ''),
      stderr: String(res.stderr ?? ''),
      all: String(res.all ?? `${res.stdout ?? ''}${res.stderr ?? ''}`) || (res.failed && res.shortMessage ? res.shortMessage : ''),
    }
  }
}

/** A failed command: which one, its output, and what to look at next. */
export class CommandFailed extends Error {
  readonly result: CommandResult
  constructor(result: CommandResult, hint?: string) {
    const tail = result.all.split('\n').slice(-40).join('\n')
    super(`\`${result.command}\` exited with ${result.exitCode}${tail ? `:\n${tail}` : ''}${hint ? `\n${hint}` : ''}`)
    this.name = 'CommandFailed'
    this.result = result
  }
}
