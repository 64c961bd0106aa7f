// Small HTTP and waiting helpers of the local supervisor: every call is bounded by a timeout, and an
// unreachable service reads as `undefined`, never as an exception.
import { createServer } from 'node:net'

export async function getJson<T>(url: string, timeoutMs = 2000): Promise<T | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    if (!r.ok) {
      await r.body?.cancel()
      return undefined
    }
    return (await r.json()) as T
  } catch {
    return undefined
  }
}

export async function getText(url: string, timeoutMs = 2000): Promise<string | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    if (!r.ok) {
      await r.body?.cancel()
      return undefined
    }
    return await r.text()
  } catch {
    return undefined
  }
}

/**
 * Whether this user may listen on host:port now: undefined when it can, else the error code and a
 * one-line reason (EACCES below 1024 without the capability, EADDRINUSE when something holds it).
 */
export async function checkPort(port: number, host = '127.0.0.1'): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EACCES') resolve(`port ${port} is not allowed for this user (EACCES: ports below 1024 need root); pick another with --port-base`)
      else if (err.code === 'EADDRINUSE') resolve(`port ${port} is already in use on ${host} (EADDRINUSE); stop what holds it or pick another with --port-base`)
      else resolve(`cannot listen on ${host}:${port}: ${err.message}`)
    })
    srv.listen(port, host, () => srv.close(() => resolve(undefined)))
  })
}
