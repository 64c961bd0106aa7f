// Finds and talks to a running `tpipe dev` instance through the control endpoint whose address it
// wrote to <TPIPE_HOME>/dev/state.json. Used by `tpipe scale` and `tpipe status`.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { DevStatus } from './supervisor.js'

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
  scale(service: string, replicas: number): Promise<{ service: string; from: number; to: number; moves: string[] }>
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
    scale: (service, replicas) =>
      call('/scale', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ service, replicas }) }),
  }
}
