/* eslint-disable @typescript-eslint/no-explicit-any -- each helper returns a Setting whose static type depends on whether O has a default; one cast per helper keeps that. */
// Setting definitions: the vocabulary every per-service settings file uses.
// A setting is declared once and yields a flag (--kebab-name), an env var (TPIPE_*), a default,
// a parser that fails with the setting's name, and a line in the README's configuration table.

export type ServiceName =
  | 'mqwriter'
  | 'mqreader'
  | 'streamer'
  | 'collector'
  | 'apigw'
  | 'partition-controller'
  | 'scraper'

export const SERVICES: readonly ServiceName[] = [
  'mqwriter',
  'mqreader',
  'streamer',
  'collector',
  'apigw',
  'partition-controller',
  'scraper',
]

/** Where a setting applies: services, and `cli` for operations commands (migrate, db, gpus, dev…). */
export type Scope = ServiceName | 'cli'

export interface Setting<T> {
  /** Flag name (kebab-case), e.g. `flush-interval-ms`. */
  readonly flag: string
  /** Environment variable, e.g. `TPIPE_WRITER_FLUSH_INTERVAL_MS`. */
  readonly env: string
  /** Other environment variables accepted as is (e.g. DATABASE_URL). Checked after `env`. */
  readonly envAliases?: readonly string[]
  readonly description: string
  readonly scopes: readonly Scope[] | 'all'
  /** Undefined means: no default; the setting is optional unless `required`. */
  readonly default?: T
  /** How the docs spell the default when the value itself reads badly (a duration in ms: `7d`). */
  readonly defaultText?: string
  readonly required?: boolean
  /** Hidden in logs (database URLs carry passwords). */
  readonly secret?: boolean
  /** Human form of the type for docs and errors: "integer 1..65535". */
  readonly kind: string
  parse(raw: string): T
}

export class ConfigError extends Error {
  readonly setting: string
  constructor(setting: string, message: string) {
    super(message)
    this.name = 'ConfigError'
    this.setting = setting
  }
}

/** A setting declared with a default: its loaded value is never undefined. */
export type WithDefault<T, O> = O extends { default: T } ? Setting<T> & { readonly default: T } : Setting<T>
type Opts<T> = Omit<Setting<T>, 'parse' | 'kind'>

function fail(what: string, raw: string): never {
  throw new Error(`expected ${what}, got ${JSON.stringify(raw)}`)
}

export function int<O extends Opts<number> & { min?: number; max?: number }>(opts: O): WithDefault<number, O> {
  const min = opts.min ?? Number.MIN_SAFE_INTEGER
  const max = opts.max ?? Number.MAX_SAFE_INTEGER
  const kind = opts.min !== undefined && opts.max !== undefined ? `integer ${min}..${max}` : opts.min !== undefined ? `integer >= ${min}` : 'integer'
  return <WithDefault<any, O>>{
    ...opts,
    kind,
    parse(raw) {
      const t = raw.trim()
      if (!/^-?\d+$/.test(t)) fail(kind, raw)
      const n = Number(t)
      if (!Number.isSafeInteger(n) || n < min || n > max) fail(kind, raw)
      return n
    },
  }
}

export function num<O extends Opts<number> & { min?: number; max?: number }>(opts: O): WithDefault<number, O> {
  const min = opts.min ?? -Infinity
  const max = opts.max ?? Infinity
  const kind = opts.min !== undefined && opts.max !== undefined ? `number ${min}..${max}` : opts.min !== undefined ? `number >= ${min}` : 'number'
  return <WithDefault<any, O>>{
    ...opts,
    kind,
    parse(raw) {
      const t = raw.trim()
      const n = Number(t)
      if (t === '' || !Number.isFinite(n) || n < min || n > max) fail(kind, raw)
      return n
    },
  }
}

export function str<O extends Opts<string> & { pattern?: RegExp; patternText?: string }>(opts: O): WithDefault<string, O> {
  const kind = opts.patternText ?? 'string'
  return <WithDefault<any, O>>{
    ...opts,
    kind,
    parse(raw) {
      if (opts.pattern && !opts.pattern.test(raw)) fail(kind, raw)
      return raw
    },
  }
}

export function bool<O extends Opts<boolean>>(opts: O): WithDefault<boolean, O> {
  return <WithDefault<any, O>>{
    ...opts,
    kind: 'boolean',
    parse(raw) {
      const t = raw.trim().toLowerCase()
      if (['1', 'true', 'yes', 'on'].includes(t)) return true
      if (['0', 'false', 'no', 'off', ''].includes(t)) return false
      return fail('boolean (true/false)', raw)
    },
  }
}

export function oneOf<const V extends string, O extends Opts<V> & { values: readonly V[] } = Opts<V> & { values: readonly V[] }>(
  opts: O & { values: readonly V[] },
): WithDefault<V, O> {
  const kind = `one of ${opts.values.join('|')}`
  return <WithDefault<any, O>>{
    ...opts,
    kind,
    parse(raw) {
      const t = raw.trim().toLowerCase() as V
      if (!opts.values.includes(t)) fail(kind, raw)
      return t
    },
  }
}

/** `hostPort: true`: `host:port` (no scheme) means http://host:port, as people type it. */
export function url<O extends Opts<string> & { hostPort?: boolean }>(opts: O): WithDefault<string, O> {
  return <WithDefault<any, O>>{
    ...opts,
    kind: 'URL',
    parse(raw) {
      try {
        const t = raw.trim()
        const u = new URL(opts.hostPort && !/^[a-z][a-z0-9+.-]*:\/\//i.test(t) ? `http://${t}` : t)
        return u.toString().replace(/\/$/, '')
      } catch {
        return fail(opts.hostPort ? 'a URL such as http://host:port (or host:port)' : 'an absolute URL', raw)
      }
    },
  }
}

export function list<O extends Opts<readonly string[]>>(opts: O): WithDefault<readonly string[], O> {
  return <WithDefault<any, O>>{
    ...opts,
    kind: 'comma-separated list',
    parse(raw) {
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0)
    },
  }
}

/** A setting whose parser is given by the caller (partition ranges, shards…). */
export function custom<T, O extends Omit<Setting<T>, 'parse'> = Omit<Setting<T>, 'parse'>>(opts: O & { parse(raw: string): T }): WithDefault<T, O> {
  return opts as unknown as WithDefault<T, O>
}
