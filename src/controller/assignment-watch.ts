// mqreader's Kubernetes assignment source: watches the one assignment ConfigMap through the API
// (fieldSelector metadata.name=…; changes arrive in under a second, where the mounted file takes up to
// a minute) and hands the reader its own entry. It only parses and hands over: the sink (mqreader's
// PartitionOwner.applyAssignment) decides — it refuses an older generation, and `partitions: null`
// (no entry, or no ConfigMap yet) means serve nothing. Needs get/list/watch on that ConfigMap.
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { apiMessage } from '../cluster/kube.js'
import { ASSIGNMENT_KEY, parseAssignmentDoc, readerAssignment, type Assignment, type AssignmentSink } from '../protocol/assignment.js'
import { ObjectWatch } from './watch.js'

export interface AssignmentWatchOptions {
  kubeConfig: KubeConfig
  namespace: string
  configMap: string
  /** This reader's name in the document: its pod name (hostname). */
  readerName: string
  relistIntervalMs: number
  log?: Logger | undefined
}

export interface AssignmentWatch {
  readonly watch: ObjectWatch<V1ConfigMap>
  /** The last assignment handed over (undefined before the first list). */
  readonly last: Assignment | undefined
  stop(): Promise<void>
}

/**
 * Starts watching. The sink is called after the first list (with `{generation: 0, partitions: null}`
 * when the ConfigMap does not exist yet) and on every change of this reader's assignment; an
 * unparseable document is logged and the assignment in force is kept.
 */
export function watchAssignmentConfigMap(opts: AssignmentWatchOptions, sink: AssignmentSink): AssignmentWatch {
  const core = opts.kubeConfig.makeApiClient(CoreV1Api)
  let last: Assignment | undefined
  let lastText: string | undefined
  const hand = (a: Assignment, text: string) => {
    if (text === lastText) return
    lastText = text
    last = a
    try {
      sink.applyAssignment(a)
      opts.log?.info({ configMap: opts.configMap, generation: a.generation, partitions: a.partitions === null ? 'no entry' : a.partitions.length }, 'assignment applied')
    } catch (err) {
      opts.log?.warn({ configMap: opts.configMap, generation: a.generation, err: (err as Error).message }, 'assignment not applied')
    }
  }
  const watch = new ObjectWatch<V1ConfigMap>({
    kubeConfig: opts.kubeConfig,
    path: `/api/v1/namespaces/${encodeURIComponent(opts.namespace)}/configmaps`,
    name: opts.configMap,
    relistIntervalMs: opts.relistIntervalMs,
    list: (fieldSelector) => core.listNamespacedConfigMap({ namespace: opts.namespace, fieldSelector }),
    onObject: (cm) => {
      const text = cm?.data?.[ASSIGNMENT_KEY]
      if (text === undefined) {
        // No document: nothing assigned. Generation 0 never overrides a real document already applied.
        hand({ generation: 0, partitions: null }, '')
        return
      }
      let a: Assignment
      try {
        a = readerAssignment(parseAssignmentDoc(text), opts.readerName)
      } catch (err) {
        opts.log?.warn({ configMap: opts.configMap, err: (err as Error).message }, 'assignment ConfigMap invalid; keeping the assignment in force')
        return
      }
      // Compare what this reader gets, not the whole text: others' moves are not this reader's business.
      hand(a, `${a.generation}:${a.partitions?.join(',') ?? 'none'}`)
    },
    onError: (err, phase) => opts.log?.warn({ err: apiMessage(err), phase, configMap: opts.configMap }, 'assignment ConfigMap watch failed; restarting'),
  })
  watch.start()
  return {
    watch,
    get last() {
      return last
    },
    stop: () => watch.stop(),
  }
}
