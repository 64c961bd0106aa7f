// Rewrites the configuration table in README.md from the config schema.
import { readFileSync, writeFileSync } from 'node:fs'
import { settingsTable } from '../src/config/docs.js'

const readme = readFileSync('README.md', 'utf8')
const next = readme.replace(/<!-- settings:start -->[\s\S]*?<!-- settings:end -->/, `<!-- settings:start -->\n${settingsTable()}\n<!-- settings:end -->`)
if (next === readme && !readme.includes('<!-- settings:start -->')) throw new Error('README.md has no <!-- settings:start --> marker')
writeFileSync('README.md', next)
