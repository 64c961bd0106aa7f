import { fileURLToPath } from 'node:url'
import { Flags } from '@oclif/core'
import { TpipeCommand } from '../src/cli/base.js'
import { startDcgmSim } from '../src/dcgmsim/server.js'

const SAMPLE = fileURLToPath(new URL('../../charts/streamer/files/telemetry.csv', import.meta.url))

export default class DcgmSim extends TpipeCommand {
  static override summary = 'Serve simulated dcgm-exporter nodes (/metrics in dcgm-exporter’s format) from a DCGM CSV, values moving over time.'
  static override description =
    'Each node serves the GPUs of one host of the CSV (hosts are reused with new names and GPU uuids beyond the CSV’s). --layout ports gives each node its own port (/metrics), --layout paths serves every node on one port at /nodes/<i>/metrics. Prints one scrape URL per line, then serves until Ctrl-C.'
  static override examples = [
    '<%= config.bin %> dcgm-sim                                  # 1 node on :9400/metrics, the shipped sample CSV',
    '<%= config.bin %> dcgm-sim --nodes 4 --port 9400            # :9400 … :9403',
    '<%= config.bin %> dcgm-sim --nodes 500 --layout paths --port 0 --json',
  ]
  static override enableJsonFlag = true
  static override flags = {
    csv: Flags.string({ description: 'DCGM CSV to serve (streamer format).', default: SAMPLE }),
    nodes: Flags.integer({ description: 'Simulated nodes.', default: 1, min: 1, max: 100000 }),
    'gpus-per-node': Flags.integer({ description: 'At most this many GPUs per node (the CSV’s hosts have 8).', min: 1 }),
    layout: Flags.string({ description: 'ports: a port per node; paths: one port, /nodes/<i>/metrics.', options: ['ports', 'paths'], default: 'ports' }),
    host: Flags.string({ description: 'Address to listen on.', default: '127.0.0.1' }),
    port: Flags.integer({ description: 'First port (node i on port+i with --layout ports); 0 = free ports from the OS.', default: 9400, min: 0, max: 65535 }),
    'frame-seconds': Flags.integer({ description: 'Seconds per CSV sample: values walk through the CSV’s successive samples at this pace.', default: 30, min: 1 }),
  }

  async run(): Promise<{ urls: string[]; nodes: number; gpus: number }> {
    const { flags } = await this.parse(DcgmSim)
    const sim = await startDcgmSim({
      csv: flags.csv,
      nodes: flags.nodes,
      gpusPerNode: flags['gpus-per-node'],
      layout: flags.layout as 'ports' | 'paths',
      host: flags.host,
      port: flags.port,
      frameSeconds: flags['frame-seconds'],
    })
    const gpus = sim.nodes.reduce((n, x) => n + x.gpus.length, 0)
    if (!this.jsonEnabled()) {
      for (const u of sim.urls) this.log(u)
      this.logToStderr(`dcgm-sim: ${sim.nodes.length} node(s), ${gpus} GPUs; Ctrl-C stops`)
    }
    const stop = () => void sim.close().then(() => process.exit(0))
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    return { urls: sim.urls, nodes: sim.nodes.length, gpus }
  }
}
