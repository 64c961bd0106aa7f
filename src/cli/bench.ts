// `tpipe bench` runs the benchmark suite of a clone (bench/, not part of the npm package): it needs
// the clone's dev dependencies (autocannon, pg-boss, tsx). What is missing is said in one line.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

/** The suites, in run order; bench/context.ts takes them from here (one list for the runner and the help). */
export const BENCH_SUITES = ['ceilings', 'mqwriter', 'drain', 'e2e', 'ingest', 'api', 'peer', 'web'] as const

/** Dev dependencies the bench loads: the TypeScript loader, the load generator, the peer queue. */
export const BENCH_DEPENDENCIES = ['tsx', 'autocannon', 'pg-boss'] as const

/** Why the bench cannot run from `root` (one line), or undefined when it can. */
export function benchUnavailable(root: string): string | undefined {
  const advice = 'run it from a clone of the tpipe repository after `npm ci` (e.g. `npm run bench`)'
  if (!existsSync(join(root, 'bench', 'cli.ts'))) {
    return `tpipe bench needs a clone of the repository with its dev dependencies; this installation has no bench/ folder: ${advice}`
  }
  const require = createRequire(join(root, 'package.json'))
  const missing = BENCH_DEPENDENCIES.filter((name) => {
    try {
      require.resolve(`${name}/package.json`)
      return false
    } catch {
      return true
    }
  })
  if (missing.length > 0) return `tpipe bench needs the dev dependencies ${missing.join(', ')}, which are not installed: ${advice}`
  return undefined
}
