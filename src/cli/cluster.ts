// How the CLI's cluster commands (`tpipe scale`, `tpipe status`) word a cluster error for a user: the
// sentence, the exit code and what to do next. src/kube/ only says what went wrong.
import { ApiException } from '@kubernetes/client-node'
import { ClusterUnavailableError, apiMessage } from '../kube/index.js'

const NO_CLUSTER = ['start a local pipeline with `tpipe dev`', 'or create a cluster with `tpipe up`', 'or point --kubeconfig / --context at a running cluster']

/** Message, exit code and suggested actions for a cluster error; undefined for any other error. */
export function cliClusterError(err: unknown): { message: string; exit: number; suggestions: string[] } | undefined {
  if (err instanceof ClusterUnavailableError) {
    // These commands try a local `tpipe dev` first, so both possibilities are named.
    return { message: `no \`tpipe dev\` instance is running and no Kubernetes cluster is reachable: ${err.reason}`, exit: 3, suggestions: NO_CLUSTER }
  }
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
