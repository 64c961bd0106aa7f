import { Args, Flags } from '@oclif/core'
import { TpipeCommand } from '../src/cli/base.js'
import { settingFlags } from '../src/cli/flags.js'
import { SUITES, parseBenchArgs, runBench } from '../src/bench/main.js'

export default class Bench extends TpipeCommand {
  static override summary = `Run the benchmark suites (${SUITES.join(', ')}) and write JSON results with the machine's description.`
  static override strict = false
  static override args = { suites: Args.string({ description: `suites to run, in this order: ${SUITES.join(' ')} (default: all)` }) }
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
    const args = [...(argv as string[]), '--duration', String(flags.duration), '--runs', String(flags.runs)]
    if (flags.out) args.push('--out', flags.out)
    if (flags.smoke) args.push('--smoke')
    let opts
    try {
      opts = parseBenchArgs(args)
    } catch (err) {
      this.error((err as Error).message, { exit: 2 })
    }
    await runBench({ ...opts, ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}) }, (m) => this.log(m))
  }
}
