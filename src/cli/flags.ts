// oclif flags generated from the config schema: every setting of a scope becomes a string flag whose
// value is parsed (and reported when bad) by loadConfig, so flag and env share one parser.
import { Flags } from '@oclif/core'
import { settingsFor, type Scope } from '../config/index.js'

// A non-multiple, optional string option flag (what Flags.string returns for these options).
const _sample = () => Flags.string({ description: '' })
type StringFlag = ReturnType<typeof _sample>

export function settingFlags(scope: Scope): Record<string, StringFlag> {
  const out: Record<string, StringFlag> = {}
  for (const [, s] of settingsFor(scope)) {
    const def = s.default === undefined ? '' : ` [default: ${Array.isArray(s.default) ? s.default.join(',') : String(s.default)}]`
    out[s.flag] = Flags.string({ description: `${s.description} (env ${s.env})${def}`, helpGroup: 'SETTINGS' })
  }
  return out
}
