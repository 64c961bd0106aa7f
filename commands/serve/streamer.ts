import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { runService } from '../../src/http/run.js'
import { buildStreamer } from '../../src/streamer/app.js'

export default class ServeStreamer extends TpipeCommand {
  static override summary = 'Run streamer: replay a DCGM CSV into mqwriter, one message per publish, timestamps re-stamped with now.'
  static override examples = [
    '<%= config.bin %> serve streamer --csv charts/streamer/files/telemetry.csv --mqwriter http://localhost:8081',
    '<%= config.bin %> serve streamer --csv data.csv --mqwriter http://mq-a:8080,http://mq-b:8080 --rate 500 --shard 0/2',
    '<%= config.bin %> serve streamer --csv data.csv --mqwriter http://localhost:8081 --loops 1 --ack-log acked.txt --port 0',
  ]
  static override flags = settingFlags('streamer')

  async run(): Promise<void> {
    const { flags } = await this.parse(ServeStreamer)
    const config = this.loadConfigFrom(flags, 'streamer')
    await runService({
      service: 'streamer',
      config,
      // Streaming runs beside the HTTP server (start); with --loops N the process ends when it is done.
      build: ({ log }) => buildStreamer(config, { logger: log }),
    })
  }
}
