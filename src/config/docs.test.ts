import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { settingsTable } from './docs.js'

describe('README configuration table', () => {
  it('is the table generated from the config schema (run `npx tsx scripts/readme-settings.ts` to refresh it)', () => {
    const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8')
    const m = /<!-- settings:start -->\n([\s\S]*?)\n<!-- settings:end -->/.exec(readme)
    expect(m, 'README has the settings markers').not.toBeNull()
    expect(m![1]).toBe(settingsTable())
  })
})
