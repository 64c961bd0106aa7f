import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { buildApigw } from '../../src/apigw/app.js'
import { runService } from '../../src/http/run.js'

export default class ServeApigw extends TpipeCommand {
  static override summary = 'Run apigw: the REST API over the telemetry (GET /api/v1/gpus, /api/v1/gpus/{id}/telemetry), OpenAPI at /openapi.json, Swagger UI at /swagger.'
  static override examples = ['<%= config.bin %> serve apigw --port 8080 --database-url postgres://tpipe:tpipe@localhost:5432/tpipe']
  static override flags = settingFlags('apigw')

  async run(): Promise<void> {
    const { flags } = await this.parse(ServeApigw)
    const config = this.loadConfigFrom(flags, 'apigw')
    await runService({
      service: 'apigw',
      config,
      // A runaway query must not hold a connection: every apigw connection gets a statement timeout,
      // as a start-up parameter (a SET on 'connect' would race the connection's first query).
      database: { statementTimeoutMs: config.apigwStatementTimeoutMs },
      build: ({ pool, log }) => buildApigw(config, { pool, logger: log }),
    })
  }
}
