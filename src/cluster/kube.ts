// Cluster access shared by the partition-controller, mqreader's assignment watch, `tpipe scale` and
// `tpipe status`: which kubeconfig/context/namespace to use, API error classification, the merge-patch
// request option, and one clear error when no cluster is reachable. Uses @kubernetes/client-node 1.x
// (2.x needs Node.js 22). Must not shell out to kubectl: everything goes through the client.
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'
import { ApiException, AppsV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type ConfigurationOptions } from '@kubernetes/client-node'

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

export interface ClusterOptions {
  /** A kubeconfig path, or a KUBECONFIG-style list of paths. */
  kubeconfig?: string | undefined
  context?: string | undefined
  namespace?: string | undefined
  /** A ready KubeConfig (tests, or a caller that already loaded one); wins over `kubeconfig`. */
  kubeConfig?: KubeConfig | undefined
}

export interface ClusterAccess {
  kubeConfig: KubeConfig
  namespace: string
  /** Where the namespace came from: --namespace/TPIPE_NAMESPACE, the pod, the kubeconfig context, found by locateInstall, or "default". */
  namespaceFrom?: 'flag' | 'pod' | 'context' | 'found' | 'default'
  /** The context in use (undefined in-cluster). */
  context: string | undefined
  /** The API server URL, for messages. */
  server: string
}

/** No cluster to talk to: no kubeconfig, an unknown context, or the API server does not answer. */
export class ClusterUnavailableError extends Error {
  readonly reason: string
  readonly suggestions: string[]
  constructor(reason: string, suggestions: string[] = [], opts: { cause?: unknown } = {}) {
    super(`no \`tpipe dev\` instance is running and no Kubernetes cluster is reachable: ${reason}`, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'ClusterUnavailableError'
    this.reason = reason
    this.suggestions = suggestions
  }
}

const SUGGEST = ['start a local pipeline with `tpipe dev`', 'or create a cluster with `tpipe up`', 'or point --kubeconfig / --context at a running cluster']

/**
 * Resolves kubeconfig → context → namespace the way kubectl does: an explicit path (or KUBECONFIG list,
 * merged, first file's current-context wins), else the pod's service account when running in a
 * cluster, else ~/.kube/config. Throws ClusterUnavailableError when there is nothing to use.
 */
export function connectCluster(opts: ClusterOptions = {}, env: NodeJS.ProcessEnv = process.env): ClusterAccess {
  let kc: KubeConfig
  let inCluster = false
  if (opts.kubeConfig) {
    kc = opts.kubeConfig
  } else {
    kc = new KubeConfig()
    const paths = (opts.kubeconfig ?? '').split(delimiter).filter((p) => p !== '')
    if (paths.length > 0) {
      const found = paths.filter((p) => existsSync(p))
      if (found.length === 0) throw new ClusterUnavailableError(`kubeconfig ${paths.join(delimiter)} does not exist`, SUGGEST)
      try {
        kc.loadFromFile(found[0]!)
        for (const p of found.slice(1)) {
          const more = new KubeConfig()
          more.loadFromFile(p)
          kc.mergeConfig(more, true)
        }
      } catch (err) {
        throw new ClusterUnavailableError(`kubeconfig ${found.join(delimiter)} cannot be read: ${(err as Error).message}`, SUGGEST, { cause: err })
      }
    } else if (env.KUBERNETES_SERVICE_HOST && existsSync(join(SERVICE_ACCOUNT_DIR, 'token'))) {
      kc.loadFromCluster()
      inCluster = true
    } else {
      const home = join(env.HOME ?? homedir(), '.kube', 'config')
      if (!existsSync(home)) throw new ClusterUnavailableError(`no kubeconfig (no --kubeconfig, KUBECONFIG or ${home}) and not running in a pod`, SUGGEST)
      try {
        kc.loadFromFile(home)
      } catch (err) {
        throw new ClusterUnavailableError(`kubeconfig ${home} cannot be read: ${(err as Error).message}`, SUGGEST, { cause: err })
      }
    }
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      const known = kc.getContexts().map((c) => c.name)
      throw new ClusterUnavailableError(`kubeconfig has no context "${opts.context}" (known: ${known.join(', ') || 'none'})`, SUGGEST)
    }
    kc.setCurrentContext(opts.context)
  }
  const cluster = kc.getCurrentCluster()
  if (!cluster) throw new ClusterUnavailableError('the kubeconfig has no current context (set one with --context)', SUGGEST)
  const ctx = inCluster ? null : kc.getContextObject(kc.getCurrentContext())
  let namespace = opts.namespace ?? ctx?.namespace
  if (!namespace && inCluster) {
    try {
      namespace = readFileSync(join(SERVICE_ACCOUNT_DIR, 'namespace'), 'utf8').trim()
    } catch {
      // fall through to "default", as kubectl does
    }
  }
  const namespaceFrom: ClusterAccess['namespaceFrom'] = opts.namespace ? 'flag' : inCluster ? 'pod' : namespace ? 'context' : 'default'
  return { kubeConfig: kc, namespace: namespace || 'default', namespaceFrom, context: inCluster ? undefined : kc.getCurrentContext(), server: cluster.server }
}

/** The labels of the mqreader StatefulSet every tpipe install has (charts/mqreader). */
export const TPIPE_MARKER_SELECTOR = 'app.kubernetes.io/part-of=tpipe,app.kubernetes.io/name=mqreader'

/**
 * Without --namespace (or TPIPE_NAMESPACE), the namespace tpipe is installed in rather than the context's
 * (usually "default", while `tpipe up` installs into "tpipe"): one list of the mqreader StatefulSets
 * across namespaces. The context's namespace stays when tpipe is there too, when nothing is found, or when
 * listing across namespaces is not allowed; several installs and none in the context's namespace is an
 * error naming them.
 */
export async function locateInstall(access: ClusterAccess): Promise<ClusterAccess> {
  if (access.namespaceFrom === 'flag' || access.namespaceFrom === 'pod') return access
  let namespaces: string[]
  try {
    const list = await access.kubeConfig.makeApiClient(AppsV1Api).listStatefulSetForAllNamespaces({ labelSelector: TPIPE_MARKER_SELECTOR })
    namespaces = [...new Set(list.items.map((s) => s.metadata?.namespace).filter((n): n is string => Boolean(n)))].sort()
  } catch {
    return access
  }
  if (namespaces.length === 0 || namespaces.includes(access.namespace)) return access
  if (namespaces.length === 1) return { ...access, namespace: namespaces[0]!, namespaceFrom: 'found' }
  throw new ClusterUnavailableError(`tpipe is installed in several namespaces (${namespaces.join(', ')}) and not in "${access.namespace}": pick one with --namespace`, [])
}

/** HTTP status of an API error (404, 409…), or undefined for transport errors. */
export function apiStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.statusCode ?? (err as { code?: unknown } | null)?.code
  return typeof code === 'number' ? code : undefined
}

export const isNotFound = (err: unknown): boolean => apiStatus(err) === 404
export const isConflict = (err: unknown): boolean => apiStatus(err) === 409

/** The API server's own message (Status.message) when there is one. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    let body: unknown = err.body
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body)
      } catch {
        // keep the text
      }
    }
    const msg = (body as { message?: unknown } | null)?.message
    if (typeof msg === 'string' && msg !== '') return msg
    return `HTTP ${err.code}`
  }
  return err instanceof Error ? err.message : String(err)
}

const TRANSPORT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'ENETUNREACH', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'])

/** True when the request never reached an API server (refused, unknown host, timeout, TLS). */
export function isTransportError(err: unknown): boolean {
  if (err instanceof ApiException) return false
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown; errno?: unknown }).code ?? (e as { errno?: unknown }).errno
    if (typeof code === 'string' && TRANSPORT_CODES.has(code)) return true
    if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|socket hang up|network timeout/i.test(String((e as Error).message))) return true
  }
  return false
}

/** Turns a transport failure into ClusterUnavailableError (naming the server); other errors pass through. */
export function explainClusterError(err: unknown, access: Pick<ClusterAccess, 'server' | 'context'>): unknown {
  if (err instanceof ClusterUnavailableError || !isTransportError(err)) return err
  const where = `${access.server}${access.context ? ` (context ${access.context})` : ''}`
  const m = /(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|EAI_AGAIN)/.exec(String((err as Error).message))
  return new ClusterUnavailableError(`the API server at ${where} does not answer${m ? ` (${m[1]})` : ''}`, SUGGEST, { cause: err })
}

/**
 * Request options for a JSON merge patch. The client's patch calls default to JSON Patch
 * (application/json-patch+json), which the server refuses for an object body.
 */
export function mergePatchOptions(opt?: ConfigurationOptions): ConfigurationOptions {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch, opt)
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })

/** How a CLI command reports a cluster error: message, exit code and suggested actions. */
export function cliClusterError(err: unknown): { message: string; exit: number; suggestions: string[] } | undefined {
  if (err instanceof ClusterUnavailableError) return { message: err.message, exit: 3, suggestions: err.suggestions }
  if (err instanceof ApiException) {
    const code = err.code
    const hint =
      code === 401 || code === 403
        ? ['your kubeconfig user lacks permission here: check --context and --namespace']
        : ['check --context and --namespace', '`tpipe status` shows what is installed']
    return { message: `the Kubernetes API refused the request (HTTP ${code}): ${apiMessage(err)}`, exit: 1, suggestions: hint }
  }
  return undefined
}
