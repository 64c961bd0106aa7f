// The service tokens of one `tpipe dev` run (README › Commands, `tpipe dev`): crypto-random unless the
// caller's environment sets them, written to <TPIPE_HOME>/dev/tokens.json with mode 0600 (so `tpipe gpus`
// and `tpipe status` in another shell of the same user find them, nobody else can read them), and
// handed to exactly the services that need each one.
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ServiceName } from '../config/types.js'

export const TOKEN_VARS = ['TPIPE_PUBLISH_TOKEN', 'TPIPE_QUEUE_TOKEN', 'TPIPE_CONTROL_TOKEN', 'TPIPE_API_TOKEN'] as const
export type TokenVar = (typeof TOKEN_VARS)[number]

export interface ServiceTokens {
  TPIPE_PUBLISH_TOKEN: string
  TPIPE_QUEUE_TOKEN: string
  TPIPE_CONTROL_TOKEN: string
  /** Only when the apigw's /api/* must be protected too (`tpipe dev --protect-api` or TPIPE_API_TOKEN set). */
  TPIPE_API_TOKEN?: string
}

/** Who needs which token: the server that checks it and the clients that send it. */
const NEEDS: Record<ServiceName, readonly TokenVar[]> = {
  mqwriter: ['TPIPE_PUBLISH_TOKEN'],
  streamer: ['TPIPE_PUBLISH_TOKEN'],
  scraper: ['TPIPE_PUBLISH_TOKEN'],
  mqreader: ['TPIPE_QUEUE_TOKEN', 'TPIPE_CONTROL_TOKEN'],
  collector: ['TPIPE_QUEUE_TOKEN'],
  apigw: ['TPIPE_API_TOKEN'],
  'partition-controller': ['TPIPE_CONTROL_TOKEN'],
}

/** 256 random bits, base64url (43 characters: within the settings' token pattern). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * The tokens of a run: each one the environment sets is kept (an operator's choice), every other one
 * is generated. The API token exists only when set or asked for (`protectApi`).
 */
export function serviceTokens(env: Record<string, string | undefined>, protectApi = false): ServiceTokens {
  const pick = (v: TokenVar) => (env[v] !== undefined && env[v] !== '' ? env[v] : undefined)
  const tokens: ServiceTokens = {
    TPIPE_PUBLISH_TOKEN: pick('TPIPE_PUBLISH_TOKEN') ?? generateToken(),
    TPIPE_QUEUE_TOKEN: pick('TPIPE_QUEUE_TOKEN') ?? generateToken(),
    TPIPE_CONTROL_TOKEN: pick('TPIPE_CONTROL_TOKEN') ?? generateToken(),
  }
  const api = pick('TPIPE_API_TOKEN') ?? (protectApi ? generateToken() : undefined)
  if (api !== undefined) tokens.TPIPE_API_TOKEN = api
  return tokens
}

/**
 * The token variables of one child's environment: the ones it needs, and every other one explicitly
 * unset (undefined), so a token in the supervisor's own environment never leaks to a service that
 * does not need it.
 */
export function tokenEnv(service: ServiceName, tokens: ServiceTokens): Record<TokenVar, string | undefined> {
  const out = {} as Record<TokenVar, string | undefined>
  for (const v of TOKEN_VARS) out[v] = NEEDS[service].includes(v) ? tokens[v] : undefined
  return out
}

export function tokensFile(home: string): string {
  return join(home, 'dev', 'tokens.json')
}

/**
 * Writes the tokens with mode 0600: a new file under a random name (created exclusively, so nothing
 * planted there is followed or reused), renamed over the old one.
 */
export function writeTokensFile(home: string, tokens: ServiceTokens): string {
  const file = tokensFile(home)
  mkdirSync(join(home, 'dev'), { recursive: true })
  const tmp = `${file}.${randomBytes(8).toString('hex')}.tmp`
  writeFileSync(tmp, JSON.stringify(tokens, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
  try {
    renameSync(tmp, file)
  } catch (err) {
    rmSync(tmp, { force: true })
    throw err
  }
  return file
}

/** The tokens of the `tpipe dev` running on this home (undefined: none, or not readable by us). */
export function readTokensFile(home: string): Partial<ServiceTokens> | undefined {
  try {
    const parsed = JSON.parse(readFileSync(tokensFile(home), 'utf8')) as Record<string, unknown>
    const out: Partial<ServiceTokens> = {}
    for (const v of TOKEN_VARS) if (typeof parsed[v] === 'string') out[v] = parsed[v]
    return out
  } catch {
    return undefined
  }
}

export function removeTokensFile(home: string): void {
  rmSync(tokensFile(home), { force: true })
}
