import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { runService } from '../../src/http/run.js'
import { buildStreamer, type StreamerApp } from '../../src/streamer/app.js'

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
    let built: StreamerApp | undefined
    await runService({
      service: 'streamer',
      config,
      needsDatabase: false,
      build: ({ log }) => {
        built = buildStreamer(config, { logger: log })
        return built.app
      },
      afterListen: () => {
        const s = built!
        // Streaming runs beside the HTTP server; with --loops N the process ends when it is done.
        s.run().then(
          async (result) => {
            s.app.log.info({ result }, 'streaming finished')
            await s.app.close()
            process.exit(0)
          },
          async (err: unknown) => {
            s.app.log.error({ err: (err as Error).message }, 'streaming failed')
            await s.app.close().catch(() => {})
            process.exit(1)
          },
        )
      },
    })
  }
}
