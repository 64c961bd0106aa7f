import { writeFileSync } from 'node:fs'
import { Flags } from '@oclif/core'
import { TpipeCommand } from '../src/cli/base.js'
import { generateOpenApi } from '../src/apigw/app.js'

export default class OpenApi extends TpipeCommand {
  static override summary = 'Write the OpenAPI 3 document of apigw, generated from the route schemas (no database needed).'
  static override examples = ['<%= config.bin %> openapi --out docs/openapi.json', '<%= config.bin %> openapi > openapi.json']
  static override flags = {
    out: Flags.string({ char: 'o', description: 'File to write; standard output when omitted.' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(OpenApi)
    const text = JSON.stringify(await generateOpenApi(), null, 2) + '\n'
    if (flags.out) {
      writeFileSync(flags.out, text)
      this.logToStderr(`wrote ${flags.out}`)
    } else process.stdout.write(text)
  }
}
