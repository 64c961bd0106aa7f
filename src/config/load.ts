import { SETTINGS, type Config, type SettingKey } from './schema.js'
import { ConfigError, type Scope, type Setting } from './types.js'

const entries = Object.entries(SETTINGS) as [SettingKey, Setting<unknown>][]

export function settingsFor(scope: Scope): [SettingKey, Setting<unknown>][] {
  return entries.filter(([, s]) => s.scopes === 'all' || s.scopes.includes(scope))
}

export function allSettings(): [SettingKey, Setting<unknown>][] {
  return entries
}

/**
 * Resolves every setting: flag (already a string from oclif) → TPIPE_* env → alias env → default.
 * Fails fast with a ConfigError naming the flag and the env var of the first bad value.
 * The result is frozen: configuration never changes after start.
 */
export function loadConfig(
  flags: Readonly<Record<string, string | number | boolean | undefined>> = {},
  env: NodeJS.ProcessEnv = process.env,
  scope?: Scope,
): Config {
  const out: Record<string, unknown> = {}
  for (const [key, s] of entries) {
    const fromFlag = flags[s.flag]
    let raw: string | undefined
    let source = ''
    if (fromFlag !== undefined && fromFlag !== '') {
      raw = String(fromFlag)
      source = `--${s.flag}`
    } else {
      for (const name of [s.env, ...(s.envAliases ?? [])]) {
        const v = env[name]
        if (v !== undefined && v !== '') {
          raw = v
          source = name
          break
        }
      }
    }
    if (raw === undefined) {
      // A required setting is enforced only for the scope being loaded (a CLI command never needs --csv).
      const applies = scope !== undefined && (s.scopes === 'all' || s.scopes.includes(scope))
      if (s.required && applies && s.default === undefined) {
        throw new ConfigError(key, `missing setting ${key}: set --${s.flag} or ${s.env} (${s.description})`)
      }
      out[key] = s.default
      continue
    }
    try {
      out[key] = s.parse(raw)
    } catch (err) {
      throw new ConfigError(key, `bad value for ${key} (${source}; flag --${s.flag}, env ${s.env}): ${(err as Error).message}`)
    }
  }
  return Object.freeze(out) as Config
}

/** The config with secrets masked, for a start-up log line. */
export function redact(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, s] of entries) {
    const v = config[key]
    if (!s.secret || typeof v !== 'string') out[key] = v
    // A URL keeps everything but its password; any other secret (a token) is masked whole.
    else out[key] = /^[a-z]+:\/\//i.test(v) ? v.replace(/:\/\/([^:@/]+):[^@/]*@/, '://$1:***@') : '***'
  }
  return out
}
