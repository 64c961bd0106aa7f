// Which namespace tpipe is installed in, for `tpipe scale` and `tpipe status` without --namespace.
import { AppsV1Api } from '@kubernetes/client-node'
import { ClusterUnavailableError, type ClusterAccess } from '../kube/index.js'

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
  throw new ClusterUnavailableError(`tpipe is installed in several namespaces (${namespaces.join(', ')}) and not in "${access.namespace}": pick one with --namespace`)
}
