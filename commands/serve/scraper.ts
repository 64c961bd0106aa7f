import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { runService } from '../../src/http/run.js'
import { buildScraper, type ScraperApp } from '../../src/scraper/app.js'

export default class ServeScraper extends TpipeCommand {
  static override summary = 'Run scraper: scrape dcgm-exporter endpoints every interval and publish their DCGM samples to mqwriter, idempotently.'
  static override examples = [
    '<%= config.bin %> serve scraper --scrape-targets http://gpu-node-1:9400/metrics,http://gpu-node-2:9400/metrics --mqwriter http://localhost:8081',
    '<%= config.bin %> serve scraper --scrape-discovery kubernetes --scrape-namespace gpu-operator --scrape-selector app=nvidia-dcgm-exporter --mqwriter http://mqwriter:8080',
  ]
  static override flags = settingFlags('scraper')

  async run(): Promise<void> {
    const { flags } = await this.parse(ServeScraper)
    const config = this.loadConfigFrom(flags, 'scraper')
    let built: ScraperApp | undefined
    await runService({
      service: 'scraper',
      config,
      needsDatabase: false,
      build: ({ log }) => {
        built = buildScraper(config, { logger: log })
        return built.app
      },
      afterListen: () => built!.start(),
    })
  }
}
