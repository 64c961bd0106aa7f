import type { Command } from '@oclif/core'
import { ApiClient, ApiError } from '../apigw/client.js'
import { loadConfig } from '../config/index.js'
import { runningInstance } from '../local/lock.js'
import { CliFailure } from './base.js'

/** `localhost:18200` or `apigw:8080/base` mean http://…; anything with a scheme is taken as it is. */
export function normalizeApiUrl(raw: string): string {
  const t = raw.trim()
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(t) ? t : `http://${t}`
}

/**
 * The apigw a `tpipe gpus …` command talks to: --api-url / TPIPE_API_URL when given; else the apigw of
 * the `tpipe dev` running on TPIPE_HOME (like `tpipe status` and `tpipe scale` find it); else the
 * default. Never silently another pipeline's apigw when a dev instance runs on another port.
 */
export async function resolveApiUrl(cmd: Command, configured: string): Promise<string> {
  const explicit = process.env.TPIPE_API_URL !== undefined || cmd.argv.some((a) => a === '--api-url' || a.startsWith('--api-url='))
  if (explicit) return normalizeApiUrl(configured)
  let home: string | undefined
  try {
    home = loadConfig({}, process.env, 'cli').home
  } catch {
    home = undefined
  }
  const dev = home ? await runningInstance(home) : undefined
  return dev?.apigw ?? normalizeApiUrl(configured)
}

/**
 * Runs fn with an apigw client and closes it; an apigw that cannot be reached or answers 4xx becomes a
 * CliFailure: one unwrapped line on stderr (or the JSON error with the API's code) and exit code 1.
 */
export async function withApiClient<T>(cmd: Command, apiUrl: string, fn: (client: ApiClient) => Promise<T>): Promise<T> {
  let client: ApiClient | undefined
  try {
    client = new ApiClient(await resolveApiUrl(cmd, apiUrl))
    return await fn(client)
  } catch (err) {
    if (err instanceof ApiError) throw new CliFailure(err.message, err.code ?? (err.status === undefined ? 'TPIPE_ERR_UNREACHABLE' : 'TPIPE_ERR_FAILED'), 1)
    throw err
  } finally {
    await client?.close()
  }
}
