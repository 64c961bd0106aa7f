// The import rules of eslint.config.js bite: each one is run on a violating import (and on an allowed
// one) through ESLint's API, with the project's own configuration. `npm run lint` (and .ci/run) apply
// them to the whole tree.
import { fileURLToPath } from 'node:url'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const eslint = new ESLint({ cwd: root })

async function restricted(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${source}\nexport const used = x\n`, { filePath })
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
}

describe('import rules', { timeout: 60_000 }, () => {
  it.each([
    ['a service imports src/cluster/', 'src/mqreader/x.ts', "import { x } from '../cluster/kube.js'"],
    ['a service imports src/local/', 'src/collector/x.ts', "import { x } from '../local/supervisor.js'"],
    ['a service imports commands/', 'src/apigw/x.ts', "import { x } from '../../commands/status.js'"],
    ['a service imports another service', 'src/mqreader/x.ts', "import { x } from '../controller/assignment.js'"],
    ['the controller imports a service', 'src/controller/x.ts', "import { x } from '../mqreader/app.js'"],
    ['the streamer imports mqwriter', 'src/streamer/x.ts', "import { x } from '../mqwriter/uuidv7.js'"],
    ['a service test imports src/cluster/', 'src/mqwriter/x.int.test.ts', "import { x } from '../cluster/kube.js'"],
    ['src/ imports commands/', 'src/config/x.ts', "import { x } from '../../commands/dev.js'"],
    ['src/ imports test support', 'src/db/x.ts', "import { x } from '../../test/support/db.js'"],
    ['src/ imports the bench', 'src/cli/x.ts', "import { x } from '../../bench/main.js'"],
    ['src/kube/ imports a service', 'src/kube/x.ts', "import { x } from '../mqreader/app.js'"],
    ['src/kube/ imports the CLI', 'src/kube/x.ts', "import { x } from '../cli/cluster.js'"],
  ])('refuses: %s', async (_what, file, source) => {
    expect((await restricted(file, source)).length).toBeGreaterThan(0)
  })

  it.each([
    ['a service uses the kube layer', 'src/mqreader/x.ts', "import { x } from '../kube/index.js'"],
    ['the controller uses the kube layer and util', 'src/controller/x.ts', "import { x } from '../kube/index.js'\nimport { y as x2 } from '../util/async.js'\nvoid x2"],
    ['the CLI cluster commands use the kube layer', 'src/cluster/x.ts', "import { x } from '../kube/index.js'"],
    ['a command uses a service and the CLI layers', 'commands/x.ts', "import { x } from '../src/mqwriter/app.js'\nimport { y } from '../src/cluster/status.js'\nvoid y"],
    ['a test uses test support', 'src/mqreader/x.int.test.ts', "import { x } from '../../test/support/db.js'"],
    ['a collector test starts a real mqwriter', 'src/collector/x.int.test.ts', "import { x } from '../mqwriter/app.js'"],
    ['the bench uses src/ and test support', 'bench/x.ts', "import { x } from '../src/mqwriter/app.js'\nimport { y } from '../test/support/seed.js'\nvoid y"],
  ])('allows: %s', async (_what, file, source) => {
    expect(await restricted(file, source)).toEqual([])
  })
})
