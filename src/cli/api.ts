import type { Command } from '@oclif/core'
import { ApiClient, ApiError } from '../apigw/client.js'

/**
 * Runs fn with an apigw client and closes it; an apigw that cannot be reached or answers 4xx becomes
 * one unwrapped line on stderr and exit code 1 (oclif's this.error would wrap it to the terminal width).
 */
export async function withApiClient<T>(cmd: Command, apiUrl: string, fn: (client: ApiClient) => Promise<T>, token?: string): Promise<T> {
  const client = new ApiClient(apiUrl, undefined, token)
  try {
    return await fn(client)
  } catch (err) {
    if (err instanceof ApiError) {
      cmd.logToStderr(`Error: ${err.message}`)
      cmd.exit(1)
    }
    throw err
  } finally {
    await client.close()
  }
}
