// Where the package lives, whether running compiled (dist/src/…) or from source (src/…, tests).
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const pj = join(dir, 'package.json')
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'tpipe') return dir
      } catch {
        /* keep looking */
      }
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error('cannot find the tpipe package root')
    dir = parent
  }
}

export const PACKAGE_ROOT = findRoot()

/** The package's version (package.json): `tpipe --version`, the OpenAPI document's info.version. */
export const PACKAGE_VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version
