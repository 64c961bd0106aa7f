import type { Command } from '@oclif/core'
import { ApiClient, ApiError } from '../apigw/client.js'
import { loadConfig } from '../config/index.js'
import { runningInstance } from '../local/lock.js'
import { readTokensFile } from '../local/tokens.js'
import { CliFailure } from './base.js'

/** `localhost:18200` or `apigw:8080/base` mean http://…; anything with a scheme is taken as it is. */
export function normalizeApiUrl(raw: string): string {
  const t = raw.trim()
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(t) ? t : `http://${t}`
}

function origin(url: string): string | undefined {
  try {
    return new URL(url).origin
  } catch {
    return undefined
  }
}

/**
 * The apigw a `tpipe gpus …` command talks to: --api-url / TPIPE_API_URL when given; else the apigw of
 * the `tpipe dev` running on TPIPE_HOME (like `tpipe status` and `tpipe scale` find it); else the
 * default. Never silently another pipeline's apigw when a dev instance runs on another port.
 * The token: TPIPE_API_TOKEN when set; else, when that apigw is the `tpipe dev`'s, the API token in its
 * tokens file (TPIPE_HOME/dev/tokens.json) if it has one. A dev token is never sent anywhere else.
 */
export async function resolveApi(cmd: Command, configured: string): Promise<{ url: string; token: string | undefined }> {
  const explicit = process.env.TPIPE_API_URL !== undefined || cmd.argv.some((a) => a === '--api-url' || a.startsWith('--api-url='))
  let config: { home: string; apiToken?: string | undefined } | undefined
  try {
    config = loadConfig({}, process.env, 'cli')
  } catch {
    config = undefined
  }
  const dev = config ? await runningInstance(config.home) : undefined
  const url = explicit ? normalizeApiUrl(configured) : (dev?.apigw ?? normalizeApiUrl(configured))
  const token = config?.apiToken ?? (dev?.apigw && origin(dev.apigw) === origin(url) ? readTokensFile(config!.home)?.TPIPE_API_TOKEN : undefined)
  return { url, token }
}

/**
 * Runs fn with an apigw client and closes it; an apigw that cannot be reached or answers 4xx becomes a
 * CliFailure: one unwrapped line on stderr (or the JSON error with the API's code) and exit code 1.
 */
export async function withApiClient<T>(cmd: Command, apiUrl: string, fn: (client: ApiClient) => Promise<T>): Promise<T> {
  let client: ApiClient | undefined
  try {
    const api = await resolveApi(cmd, apiUrl)
    client = new ApiClient(api.url, undefined, api.token)
    return await fn(client)
  } catch (err) {
    if (err instanceof ApiError) throw new CliFailure(err.message, err.code ?? (err.status === undefined ? 'TPIPE_ERR_UNREACHABLE' : 'TPIPE_ERR_FAILED'), 1)
    throw err
  } finally {
    await client?.close()
  }
}
