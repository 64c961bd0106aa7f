import { Flags } from '@oclif/core'
import { TpipeCommand } from '../src/cli/base.js'
import { settingFlags } from '../src/cli/flags.js'
import { parseRate } from '../src/config/settings/streamer.js'
import { DEFAULT_CSV, DEFAULT_RATE, DevStartError, runDev } from '../src/local/dev.js'
import { InstanceRunningError } from '../src/local/lock.js'

// Only the settings tpipe dev uses (--api-url is for `tpipe gpus`; dev prints its own apigw URL).
const { 'database-url': databaseUrl, home, 'log-level': logLevel } = settingFlags('cli')

export default class Dev extends TpipeCommand {
  static override summary = 'Run the whole pipeline on this machine: embedded PostgreSQL, every service as a supervised process.'
  static override description =
    'Starts mqwriter, mqreader, collector, apigw and streamer processes (the same `tpipe serve …` commands the containers run), restarts any that die, and shows a live status view. `tpipe status` and `tpipe scale` talk to it. Ctrl-C stops everything in order (streamers → writers flush → the queue drains → readers → collectors → apigw → database) and prints the totals. One `tpipe dev` per TPIPE_HOME.'
  static override examples = [
    '<%= config.bin %> dev',
    '<%= config.bin %> dev --readers 4 --collectors 4 --rate max',
    '<%= config.bin %> dev --csv ./my-export.csv --keep-timestamps --loops 1',
    '<%= config.bin %> dev --source scrape --sim-nodes 20 --scrape-interval 5',
    'DATABASE_URL=postgres://user:pass@localhost:5432/tpipe <%= config.bin %> dev --port-base 9080',
  ]
  static override flags = {
    'database-url': databaseUrl!,
    home: home!,
    'log-level': logLevel!,
    streamers: Flags.integer({ description: 'streamer processes', default: 2, min: 0, max: 64 }),
    writers: Flags.integer({ description: 'mqwriter processes', default: 1, min: 1, max: 64 }),
    readers: Flags.integer({ description: 'mqreader processes (partitions split between them)', default: 2, min: 1, max: 64 }),
    collectors: Flags.integer({ description: 'collector processes', default: 2, min: 0, max: 64 }),
    csv: Flags.string({ description: 'DCGM CSV the streamers loop over', default: DEFAULT_CSV }),
    'keep-timestamps': Flags.boolean({ description: 'keep the timestamps in the CSV (a historical export) instead of stamping rows with the time they are sent' }),
    rate: Flags.string({ description: `messages/s per streamer, or "max"`, default: String(DEFAULT_RATE) }),
    loops: Flags.integer({ description: 'passes over the CSV per streamer (0 = forever)', default: 0, min: 0 }),
    'port-base': Flags.integer({ description: 'apigw port (0: any free port; the other services bind free ports and report them)', default: 8080, min: 0, max: 65535 }),
    duration: Flags.integer({ description: 'stop after this many seconds (0 = until Ctrl-C)', default: 0, min: 0 }),
    'no-view': Flags.boolean({ description: 'no live status view (logs only)' }),
    source: Flags.string({
      description: 'csv: streamers loop the CSV; scrape: --streamers N scrapers scrape a dcgm-sim (the CSV served as dcgm-exporter nodes)',
      options: ['csv', 'scrape'],
      default: 'csv',
    }),
    'sim-nodes': Flags.integer({ description: 'with --source scrape: simulated dcgm-exporter nodes', default: 4, min: 1, max: 10000 }),
    'protect-api': Flags.boolean({
      description: "also require a bearer token on apigw's /api/* (generated, or TPIPE_API_TOKEN when set; tpipe gpus sends it, the dashboard asks for it)",
    }),
    'scrape-interval': Flags.integer({ description: 'with --source scrape: seconds between scrapes of each node', default: 15, min: 1 }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Dev)
    const config = this.loadConfigFrom({ 'database-url': flags['database-url'], home: flags.home, 'log-level': flags['log-level'] }, 'cli')
    // The streamer's own parser (src/config/settings/streamer.ts): one rule for --rate wherever it is typed.
    let rate: number
    try {
      rate = parseRate(flags.rate)
    } catch (err) {
      this.error(`--rate: ${(err as Error).message}`, { exit: 2 })
    }
    try {
      await runDev({
        home: config.home,
        databaseUrl: config.databaseUrl,
        streamers: flags.streamers,
        writers: flags.writers,
        readers: flags.readers,
        collectors: flags.collectors,
        apigws: 1,
        csv: flags.csv,
        keepTimestamps: flags['keep-timestamps'],
        rate,
        loops: flags.loops,
        portBase: flags['port-base'],
        logLevel: config.logLevel,
        view: flags['no-view'] ? 'none' : 'auto',
        durationS: flags.duration,
        source: flags.source as 'csv' | 'scrape',
        simNodes: flags['sim-nodes'],
        scrapeIntervalMs: flags['scrape-interval'] * 1000,
        protectApi: flags['protect-api'],
        log: (m) => this.log(m),
      })
    } catch (err) {
      if (err instanceof InstanceRunningError) this.fail(err.message, 'TPIPE_ERR_ALREADY_RUNNING')
      if (err instanceof DevStartError) this.fail(`tpipe dev could not start: ${err.message}`, 'TPIPE_ERR_START_FAILED')
      throw err
    }
  }
}
