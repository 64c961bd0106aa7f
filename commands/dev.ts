import { Flags } from '@oclif/core'
import { TpipeCommand } from '../src/cli/base.js'
import { settingFlags } from '../src/cli/flags.js'
import { DEFAULT_CSV, DEFAULT_RATE, runDev } from '../src/local/dev.js'

export default class Dev extends TpipeCommand {
  static override summary = 'Run the whole pipeline on this machine: embedded PostgreSQL, every service as a supervised process.'
  static override description =
    'Starts mqwriter, mqreader, collector, apigw and streamer processes (the same `tpipe serve …` commands the containers run), restarts any that die, and shows a live status view. `tpipe status` and `tpipe scale` talk to it. Ctrl-C shuts down in order.'
  static override examples = ['tpipe dev', 'tpipe dev --readers 4 --collectors 4 --rate max', 'tpipe dev --source scrape --sim-nodes 20 --scrape-interval 5', 'DATABASE_URL=postgres://… tpipe dev --port-base 9080']
  static override flags = {
    ...settingFlags('cli'),
    streamers: Flags.integer({ description: 'streamer processes', default: 2, min: 0, max: 64 }),
    writers: Flags.integer({ description: 'mqwriter processes', default: 1, min: 1, max: 64 }),
    readers: Flags.integer({ description: 'mqreader processes (partitions split between them)', default: 2, min: 1, max: 64 }),
    collectors: Flags.integer({ description: 'collector processes', default: 2, min: 0, max: 64 }),
    csv: Flags.string({ description: 'DCGM CSV the streamers loop over', default: DEFAULT_CSV }),
    rate: Flags.string({ description: `messages/s per streamer, or "max"`, default: String(DEFAULT_RATE) }),
    loops: Flags.integer({ description: 'passes over the CSV per streamer (0 = forever)', default: 0, min: 0 }),
    'port-base': Flags.integer({ description: 'apigw port (other services get free ports)', default: 8080, min: 1, max: 65535 }),
    duration: Flags.integer({ description: 'stop after this many seconds (0 = until Ctrl-C)', default: 0, min: 0 }),
    'no-view': Flags.boolean({ description: 'no live status view (logs only)' }),
    source: Flags.string({
      description: 'csv: streamers loop the CSV; scrape: --streamers N scrapers scrape a dcgm-sim (the CSV served as dcgm-exporter nodes)',
      options: ['csv', 'scrape'],
      default: 'csv',
    }),
    'sim-nodes': Flags.integer({ description: 'with --source scrape: simulated dcgm-exporter nodes', default: 4, min: 1, max: 10000 }),
    'scrape-interval': Flags.integer({ description: 'with --source scrape: seconds between scrapes of each node', default: 15, min: 1 }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Dev)
    const config = this.loadConfigFrom(flags, 'cli')
    const rate = flags.rate === 'max' ? 0 : Number(flags.rate)
    if (!Number.isFinite(rate) || rate < 0) this.error(`--rate must be a number of messages/s or "max", got ${JSON.stringify(flags.rate)}`, { exit: 2 })
    await runDev({
      home: config.home,
      databaseUrl: config.databaseUrl,
      streamers: flags.streamers,
      writers: flags.writers,
      readers: flags.readers,
      collectors: flags.collectors,
      apigws: 1,
      csv: flags.csv,
      rate,
      loops: flags.loops,
      portBase: flags['port-base'],
      view: flags['no-view'] ? 'none' : 'auto',
      durationS: flags.duration,
      source: flags.source as 'csv' | 'scrape',
      simNodes: flags['sim-nodes'],
      scrapeIntervalMs: flags['scrape-interval'] * 1000,
      log: (m) => this.log(m),
    })
  }
}
