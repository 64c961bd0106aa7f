import { describe, expect, it } from 'vitest'
import { ConfigError, allSettings, loadConfig, redact, settingsFor } from './index.js'

describe('loadConfig', () => {
  it('applies defaults', () => {
    const c = loadConfig({}, {})
    expect(c.port).toBe(8080)
    expect(c.logLevel).toBe('info')
    expect(c.writerFlushIntervalMs).toBe(1)
    expect(c.databaseUrl).toBeUndefined()
  })

  it('takes flag over TPIPE_* env over default, and DATABASE_URL as an alias', () => {
    expect(loadConfig({}, { TPIPE_PORT: '9000' }).port).toBe(9000)
    expect(loadConfig({ port: '9100' }, { TPIPE_PORT: '9000' }).port).toBe(9100)
    expect(loadConfig({}, { DATABASE_URL: 'postgres://a@h/db' }).databaseUrl).toBe('postgres://a@h/db')
    expect(loadConfig({}, { DATABASE_URL: 'postgres://a@h/db', TPIPE_DATABASE_URL: 'postgres://b@h/db' }).databaseUrl).toBe('postgres://b@h/db')
  })

  it.each([
    [{ TPIPE_PORT: 'eighty' }, /bad value for port \(TPIPE_PORT; flag --port, env TPIPE_PORT\): expected integer 0\.\.65535/],
    [{ TPIPE_PORT: '70000' }, /port/],
    [{ TPIPE_LOG_LEVEL: 'loud' }, /logLevel.*one of trace\|debug/],
    [{ TPIPE_WRITER_BATCH_SIZE: '0' }, /writerBatchSize.*integer 1\.\.50000/],
    [{ DATABASE_URL: 'mysql://x' }, /databaseUrl \(DATABASE_URL.*postgres:\/\/ URL/],
    [{ TPIPE_DEFAULT_METRICS: 'maybe' }, /metricsEnabled.*boolean/],
  ])('fails fast naming the setting: %o', (env, message) => {
    expect(() => loadConfig({}, env)).toThrow(ConfigError)
    expect(() => loadConfig({}, env)).toThrow(message)
  })

  it('freezes the result', () => {
    const c = loadConfig({}, {})
    expect(Object.isFrozen(c)).toBe(true)
  })

  it('masks passwords when printed', () => {
    const c = loadConfig({}, { DATABASE_URL: 'postgres://user:secret@db:5432/tpipe' })
    expect(redact(c).databaseUrl).toBe('postgres://user:***@db:5432/tpipe')
  })

  it('gives every setting a unique flag and a unique TPIPE_* env var', () => {
    const all = allSettings()
    const envs = all.map(([, s]) => s.env)
    expect(new Set(envs).size).toBe(envs.length)
    expect(envs.every((e) => /^TPIPE_[A-Z0-9_]+$/.test(e))).toBe(true)
    // a flag may repeat across scopes only if it is the same setting; within one scope it must be unique
    for (const scope of ['mqwriter', 'mqreader', 'streamer', 'collector', 'apigw', 'partition-controller', 'cli'] as const) {
      const flags = settingsFor(scope).map(([, s]) => s.flag)
      expect(new Set(flags).size, `duplicate flag in ${scope}`).toBe(flags.length)
    }
  })
})
