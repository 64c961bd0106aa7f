import { writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
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
      try {
        writeFileSync(flags.out, text)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        const dir = dirname(resolve(flags.out))
        const why =
          code === 'ENOENT' ? `the directory ${dir} does not exist (create it first)`
          : code === 'EACCES' || code === 'EPERM' ? `permission denied`
          : code === 'EISDIR' ? `it is a directory (give a file name, e.g. ${flags.out.replace(/\/$/, '')}/openapi.json)`
          : code === 'ENOTDIR' ? `a part of ${dir} is not a directory`
          : (err as Error).message
        this.fail(`--out ${flags.out}: cannot write: ${why}`)
      }
      this.logToStderr(`wrote ${flags.out}`)
    } else process.stdout.write(text)
  }
}
