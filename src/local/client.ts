// Finds and talks to a running `tpipe dev` instance through the control endpoint whose address it
// wrote to <TPIPE_HOME>/dev/state.json. Used by `tpipe scale` and `tpipe status`.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { DevStatus } from './status.js'
import type { ScaleResult } from './supervisor.js'

export interface DevState {
  pid: number
  control: string
  apigw: string
  startedAt: string
}

export function stateFile(home: string): string {
  return join(home, 'dev', 'state.json')
}

export interface LocalInstance {
  state: DevState
  status(): Promise<DevStatus>
  /** Scales and reports progress lines while it runs (partitions moving, processes started). */
  scale(service: string, replicas: number, onProgress?: (msg: string) => void): Promise<ScaleResult>
}

/** The running instance, or undefined when there is no state file or its control endpoint is gone. */
export async function findLocalInstance(home: string): Promise<LocalInstance | undefined> {
  let state: DevState
  try {
    state = JSON.parse(readFileSync(stateFile(home), 'utf8')) as DevState
  } catch {
    return undefined
  }
  try {
    const r = await fetch(`${state.control}/healthz`, { signal: AbortSignal.timeout(2000) })
    if (!r.ok) return undefined
  } catch {
    return undefined
  }
  const call = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const r = await fetch(`${state.control}${path}`, { ...init, signal: AbortSignal.timeout(300_000) })
    const body = (await r.json()) as T & { error?: { message: string } }
    if (!r.ok) throw new Error(body.error?.message ?? `control endpoint answered ${r.status}`)
    return body
  }
  return {
    state,
    status: () => call<DevStatus>('/status'),
    scale: async (service, replicas, onProgress) => {
      const r = await fetch(`${state.control}/scale`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
        body: JSON.stringify({ service, replicas }),
        signal: AbortSignal.timeout(300_000),
      })
      if (!r.ok || !r.body) {
        const body = (await r.json().catch(() => ({}))) as { error?: { message: string } }
        throw new Error(body.error?.message ?? `control endpoint answered ${r.status}`)
      }
      let buf = ''
      let result: ScaleResult | undefined
      const decoder = new TextDecoder()
      for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true })
        let nl: number
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          if (!line.trim()) continue
          const msg = JSON.parse(line) as { progress?: string; result?: ScaleResult; error?: { message: string } }
          if (msg.progress) onProgress?.(msg.progress)
          if (msg.result) result = msg.result
          if (msg.error) throw new Error(msg.error.message)
        }
      }
      if (!result) throw new Error('the control endpoint closed the connection before the scale finished')
      return result
    },
  }
}
