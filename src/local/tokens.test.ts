import { mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../config/index.js'
import { readTokensFile, serviceTokens, tokenEnv, tokensFile, writeTokensFile } from './tokens.js'

describe('tpipe dev service tokens', () => {
  it('are random per run, distinct per purpose, and valid for every service that checks them', () => {
    const a = serviceTokens({})
    const b = serviceTokens({})
    const all = [a.TPIPE_PUBLISH_TOKEN, a.TPIPE_QUEUE_TOKEN, a.TPIPE_CONTROL_TOKEN, b.TPIPE_PUBLISH_TOKEN, b.TPIPE_QUEUE_TOKEN, b.TPIPE_CONTROL_TOKEN]
    expect(new Set(all).size).toBe(6)
    for (const t of all) expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(a.TPIPE_API_TOKEN).toBeUndefined()
    // the services' own settings parser accepts them
    const reader = loadConfig({}, { ...a } as Record<string, string>, 'mqreader')
    expect(reader.queueToken).toBe(a.TPIPE_QUEUE_TOKEN)
    expect(reader.controlToken).toBe(a.TPIPE_CONTROL_TOKEN)
  })

  it('keeps tokens the environment sets; the API token only when set or asked for', () => {
    const set = 'operator-chosen-token-0123456789'
    const t = serviceTokens({ TPIPE_PUBLISH_TOKEN: set, TPIPE_API_TOKEN: '' })
    expect(t.TPIPE_PUBLISH_TOKEN).toBe(set)
    expect(t.TPIPE_API_TOKEN).toBeUndefined()
    expect(serviceTokens({}, true).TPIPE_API_TOKEN).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(serviceTokens({ TPIPE_API_TOKEN: set }).TPIPE_API_TOKEN).toBe(set)
  })

  it('each service gets exactly the tokens it needs; every other one is removed from its environment', () => {
    const t = serviceTokens({}, true)
    expect(tokenEnv('mqwriter', t)).toEqual({ TPIPE_PUBLISH_TOKEN: t.TPIPE_PUBLISH_TOKEN, TPIPE_QUEUE_TOKEN: undefined, TPIPE_CONTROL_TOKEN: undefined, TPIPE_API_TOKEN: undefined })
    expect(tokenEnv('streamer', t)).toEqual({ TPIPE_PUBLISH_TOKEN: t.TPIPE_PUBLISH_TOKEN, TPIPE_QUEUE_TOKEN: undefined, TPIPE_CONTROL_TOKEN: undefined, TPIPE_API_TOKEN: undefined })
    expect(tokenEnv('scraper', t).TPIPE_PUBLISH_TOKEN).toBe(t.TPIPE_PUBLISH_TOKEN)
    expect(tokenEnv('mqreader', t)).toEqual({ TPIPE_PUBLISH_TOKEN: undefined, TPIPE_QUEUE_TOKEN: t.TPIPE_QUEUE_TOKEN, TPIPE_CONTROL_TOKEN: t.TPIPE_CONTROL_TOKEN, TPIPE_API_TOKEN: undefined })
    expect(tokenEnv('collector', t)).toEqual({ TPIPE_PUBLISH_TOKEN: undefined, TPIPE_QUEUE_TOKEN: t.TPIPE_QUEUE_TOKEN, TPIPE_CONTROL_TOKEN: undefined, TPIPE_API_TOKEN: undefined })
    expect(tokenEnv('apigw', t)).toEqual({ TPIPE_PUBLISH_TOKEN: undefined, TPIPE_QUEUE_TOKEN: undefined, TPIPE_CONTROL_TOKEN: undefined, TPIPE_API_TOKEN: t.TPIPE_API_TOKEN })
  })

  it('the tokens file is mode 0600, replaced (never reused) on the next run, and read back', () => {
    const home = mkdtempSync(join(tmpdir(), 'tpipe-tokens-'))
    const first = serviceTokens({}, true)
    writeTokensFile(home, first)
    expect(statSync(tokensFile(home)).mode & 0o777).toBe(0o600)
    expect(readTokensFile(home)).toEqual(first)
    // a world-readable file left there is replaced by a new 0600 one, not written through
    writeFileSync(tokensFile(home), '{}', { mode: 0o644 })
    const second = serviceTokens({})
    writeTokensFile(home, second)
    expect(statSync(tokensFile(home)).mode & 0o777).toBe(0o600)
    expect(readTokensFile(home)).toEqual(second)
    expect(readTokensFile(join(home, 'none'))).toBeUndefined()
  })
})
