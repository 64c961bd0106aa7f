// GET through the API server's pod proxy (/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy/{path}), bounded
// in time and bytes: what `tpipe status` uses to read a reader's /metrics or a scraper's /v1/targets. The
// generated client's connectGetNamespacedPodProxyWithPath cannot be aborted (a pod that never answers
// would keep the request, and the CLI, alive after a timeout) nor limited in size, so this is a plain
// request with the kubeconfig's own TLS, credentials and proxy (KubeConfig.applyToHTTPSOptions).
import * as http from 'node:http'
import * as https from 'node:https'
import type { KubeConfig } from '@kubernetes/client-node'

export interface PodProxyOptions {
  /** Upper bound for the whole request (connect, answer, body). */
  timeoutMs: number
  /** Bodies longer than this are refused (and the request ended). */
  maxBytes: number
}

/** Why a pod proxy read failed: the HTTP status when one came back (the API server's or the pod's). */
export class PodProxyError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message)
    this.name = 'PodProxyError'
  }
}

/** The body of the pod's answer (2xx only); PodProxyError on anything else. */
export async function podProxyGet(kc: KubeConfig, namespace: string, pod: string, port: number, path: string, opts: PodProxyOptions): Promise<string> {
  const server = kc.getCurrentCluster()?.server
  if (!server) throw new PodProxyError('no API server in the kubeconfig')
  const e = encodeURIComponent
  const url = new URL(`${server.replace(/\/+$/, '')}/api/v1/namespaces/${e(namespace)}/pods/${e(pod)}:${port}/proxy/${path.replace(/^\/+/, '')}`)
  const reqOpts: https.RequestOptions = { method: 'GET', headers: { accept: 'application/json, text/plain;q=0.9, */*;q=0.5' } }
  await kc.applyToHTTPSOptions(reqOpts)
  const send = url.protocol === 'https:' ? https.request : http.request
  return new Promise<string>((resolve, reject) => {
    let done = false
    const finish = (err: Error | undefined, body?: string) => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (err) {
        req.destroy()
        reject(err)
      } else resolve(body!)
    }
    const timer = setTimeout(() => finish(new PodProxyError(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs)
    const req = send(url, reqOpts, (res) => {
      const chunks: Buffer[] = []
      let bytes = 0
      res.on('data', (c: Buffer) => {
        bytes += c.length
        if (bytes > opts.maxBytes) finish(new PodProxyError(`answer larger than ${opts.maxBytes} bytes`, res.statusCode))
        else chunks.push(c)
      })
      res.on('error', (err) => finish(new PodProxyError(err.message, res.statusCode)))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        const status = res.statusCode ?? 0
        if (status >= 200 && status < 300) finish(undefined, text)
        else finish(new PodProxyError(`HTTP ${status}${errorText(text)}`, status))
      })
    })
    req.on('error', (err) => finish(new PodProxyError(err.message)))
    req.end()
  })
}

/** ": <message>" from a Kubernetes Status or a tpipe `{ error: { code, message } }` body; "" otherwise. */
function errorText(body: string): string {
  try {
    const v = JSON.parse(body) as { message?: unknown; error?: { code?: unknown; message?: unknown } }
    if (typeof v.message === 'string' && v.message !== '') return `: ${v.message}`
    if (typeof v.error?.message === 'string') return `: ${typeof v.error.code === 'string' ? `${v.error.code} ` : ''}${v.error.message}`
  } catch {
    // not JSON
  }
  const line = body.trim().split('\n')[0] ?? ''
  return line ? `: ${line.slice(0, 200)}` : ''
}
