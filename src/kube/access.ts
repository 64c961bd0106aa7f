// Cluster access shared by the partition-controller, mqreader's assignment watch, `tpipe scale` and
// `tpipe status`: which kubeconfig/context/namespace to use, and one error when no cluster is reachable
// (its reason only: what a user should do about it is the CLI's wording, src/cli/cluster.ts). Uses
// @kubernetes/client-node 1.x (2.x needs Node.js 22). Must not shell out to kubectl.
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'
import { KubeConfig } from '@kubernetes/client-node'
import { isTransportError } from './api.js'

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
  /** Why, e.g. "kubeconfig /x does not exist"; the message is "no Kubernetes cluster is reachable: <reason>". */
  readonly reason: string
  constructor(reason: string, opts: { cause?: unknown } = {}) {
    super(`no Kubernetes cluster is reachable: ${reason}`, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'ClusterUnavailableError'
    this.reason = reason
  }
}

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
      if (found.length === 0) throw new ClusterUnavailableError(`kubeconfig ${paths.join(delimiter)} does not exist`)
      try {
        kc.loadFromFile(found[0]!)
        for (const p of found.slice(1)) {
          const more = new KubeConfig()
          more.loadFromFile(p)
          kc.mergeConfig(more, true)
        }
      } catch (err) {
        throw new ClusterUnavailableError(`kubeconfig ${found.join(delimiter)} cannot be read: ${(err as Error).message}`, { cause: err })
      }
    } else if (env.KUBERNETES_SERVICE_HOST && existsSync(join(SERVICE_ACCOUNT_DIR, 'token'))) {
      kc.loadFromCluster()
      inCluster = true
    } else {
      const home = join(env.HOME ?? homedir(), '.kube', 'config')
      if (!existsSync(home)) throw new ClusterUnavailableError(`no kubeconfig (no --kubeconfig, KUBECONFIG or ${home}) and not running in a pod`)
      try {
        kc.loadFromFile(home)
      } catch (err) {
        throw new ClusterUnavailableError(`kubeconfig ${home} cannot be read: ${(err as Error).message}`, { cause: err })
      }
    }
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      const known = kc.getContexts().map((c) => c.name)
      throw new ClusterUnavailableError(`kubeconfig has no context "${opts.context}" (known: ${known.join(', ') || 'none'})`)
    }
    kc.setCurrentContext(opts.context)
  }
  const cluster = kc.getCurrentCluster()
  if (!cluster) throw new ClusterUnavailableError('the kubeconfig has no current context (set one with --context)')
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

/** Turns a transport failure into ClusterUnavailableError (naming the server); other errors pass through. */
export function explainClusterError(err: unknown, access: Pick<ClusterAccess, 'server' | 'context'>): unknown {
  if (err instanceof ClusterUnavailableError || !isTransportError(err)) return err
  const where = `${access.server}${access.context ? ` (context ${access.context})` : ''}`
  const m = /(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|EAI_AGAIN)/.exec(String((err as Error).message))
  return new ClusterUnavailableError(`the API server at ${where} does not answer${m ? ` (${m[1]})` : ''}`, { cause: err })
}

