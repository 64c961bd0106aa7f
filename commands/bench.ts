import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { Args, Flags } from '@oclif/core'
import { TpipeCommand } from '../src/cli/base.js'
import { BENCH_SUITES, benchUnavailable } from '../src/cli/bench.js'
import { settingFlags } from '../src/cli/flags.js'
import { PACKAGE_ROOT } from '../src/paths.js'

export default class Bench extends TpipeCommand {
  static override summary = `Run the benchmark suites (${BENCH_SUITES.join(', ')}) and write JSON results with the machine's description.`
  static override description = 'Needs a clone of the repository with its dev dependencies (`npm ci`): the suites live in bench/, which the npm package does not ship.'
  static override strict = false
  static override args = { suites: Args.string({ description: `suites to run, in this order: ${BENCH_SUITES.join(' ')} (default: all)` }) }
  static override examples = ['tpipe bench ceilings mqwriter drain', 'tpipe bench api --duration 10 --runs 5']
  static override flags = {
    ...settingFlags('cli'),
    duration: Flags.integer({ description: 'seconds per measured run', default: 5, min: 1 }),
    runs: Flags.integer({ description: 'runs per figure (the median is reported, with min–max)', default: 3, min: 1 }),
    out: Flags.string({ description: 'directory for the JSON results (default bench/results)' }),
    smoke: Flags.boolean({ description: 'tiny sizes: check that every suite works, in about a minute' }),
  }

  async run(): Promise<void> {
    const { flags, argv } = await this.parse(Bench)
    const config = this.loadConfigFrom(flags, 'cli')
    const unavailable = benchUnavailable(PACKAGE_ROOT)
    if (unavailable) {
      // One unwrapped line (this.error would wrap it to the terminal width).
      this.logToStderr(`Error: ${unavailable}`)
      this.exit(2)
    }
    const suites = argv as string[]
    const unknown = suites.filter((s) => !(BENCH_SUITES as readonly string[]).includes(s))
    if (unknown.length > 0) this.error(`unknown suite ${unknown.map((s) => JSON.stringify(s)).join(', ')}: suites are ${BENCH_SUITES.join(', ')}`, { exit: 2 })
    const args = [...suites, '--duration', String(flags.duration), '--runs', String(flags.runs)]
    if (flags.out) args.push('--out', flags.out)
    if (flags.smoke) args.push('--smoke')
    // The suites run in their own process (bench/ is TypeScript, loaded through tsx).
    const child = spawn(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'bench', 'cli.ts'), ...args], {
      cwd: PACKAGE_ROOT,
      stdio: 'inherit',
      env: { ...process.env, ...(config.databaseUrl ? { TPIPE_DATABASE_URL: config.databaseUrl } : {}) },
    })
    const [code] = (await once(child, 'exit')) as [number | null]
    if (code !== 0) this.exit(code ?? 1)
  }
}
