import { hostname } from 'node:os'
import { bool, int, str } from '../types.js'

const K8S_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/
const K8S_NAME_TEXT = 'Kubernetes object name (lowercase letters, digits, - and .)'

/**
 * partition-controller (Kubernetes), plus the cluster-access settings it shares with mqreader's
 * Kubernetes assignment source. `tpipe scale` / `tpipe status` reuse namespace, kubeconfig and context
 * as their --namespace/--kubeconfig/--context flags (not scoped to `cli`, so other commands stay clean).
 */
export const controller = {
  namespace: str({
    flag: 'namespace',
    env: 'TPIPE_NAMESPACE',
    envAliases: ['POD_NAMESPACE'],
    description:
      'Kubernetes namespace to work in. Unset: the kubeconfig context’s namespace, in a pod the service account’s namespace, else "default".',
    scopes: ['partition-controller', 'mqreader', 'scraper'],
    pattern: K8S_NAME,
    patternText: K8S_NAME_TEXT,
  }),
  kubeconfig: str({
    flag: 'kubeconfig',
    env: 'TPIPE_KUBECONFIG',
    envAliases: ['KUBECONFIG'],
    description: 'Path of a kubeconfig file (KUBECONFIG path lists are merged). Unset: in-cluster service account, else ~/.kube/config.',
    scopes: ['partition-controller', 'mqreader', 'scraper'],
  }),
  kubeContext: str({
    flag: 'context',
    env: 'TPIPE_KUBE_CONTEXT',
    description: 'kubeconfig context to use instead of the current one.',
    scopes: ['partition-controller', 'mqreader', 'scraper'],
  }),
  controllerStatefulSet: str({
    flag: 'statefulset',
    env: 'TPIPE_CONTROLLER_STATEFULSET',
    description: 'The mqreader StatefulSet whose replicas the controller watches; its pods are <name>-0 … <name>-(n-1).',
    scopes: ['partition-controller'],
    default: 'mqreader',
    pattern: K8S_NAME,
    patternText: K8S_NAME_TEXT,
  }),
  controllerConfigMap: str({
    flag: 'configmap',
    env: 'TPIPE_CONTROLLER_CONFIGMAP',
    description: 'ConfigMap the controller writes the assignment to (key partitions.json).',
    scopes: ['partition-controller'],
    default: 'mqreader-partitions',
    pattern: K8S_NAME,
    patternText: K8S_NAME_TEXT,
  }),
  controllerLeaseName: str({
    flag: 'lease-name',
    env: 'TPIPE_CONTROLLER_LEASE_NAME',
    description: 'coordination.k8s.io/v1 Lease used for leader election between controller replicas.',
    scopes: ['partition-controller'],
    default: 'partition-controller',
    pattern: K8S_NAME,
    patternText: K8S_NAME_TEXT,
  }),
  controllerIdentity: str({
    flag: 'identity',
    env: 'TPIPE_CONTROLLER_IDENTITY',
    description: 'This replica’s name in the Lease (holderIdentity); must differ between replicas.',
    scopes: ['partition-controller'],
    default: hostname(),
  }),
  controllerLeaseDurationMs: int({
    flag: 'lease-duration-ms',
    env: 'TPIPE_CONTROLLER_LEASE_DURATION_MS',
    description: 'How long a Lease not renewed still counts as held; a dead leader is replaced after about this long.',
    scopes: ['partition-controller'],
    default: 15000,
    min: 200,
  }),
  controllerRenewDeadlineMs: int({
    flag: 'renew-deadline-ms',
    env: 'TPIPE_CONTROLLER_RENEW_DEADLINE_MS',
    description: 'The leader stops acting when it has not renewed the Lease for this long; must be below the lease duration.',
    scopes: ['partition-controller'],
    default: 10000,
    min: 100,
  }),
  controllerRetryPeriodMs: int({
    flag: 'retry-period-ms',
    env: 'TPIPE_CONTROLLER_RETRY_PERIOD_MS',
    description: 'Interval between Lease acquire/renew attempts; must be below the renew deadline.',
    scopes: ['partition-controller'],
    default: 2000,
    min: 10,
  }),
  controllerDebounceMs: int({
    flag: 'debounce-ms',
    env: 'TPIPE_CONTROLLER_DEBOUNCE_MS',
    description: 'Quiet time after the last replica change before the assignment is rewritten (one write per burst).',
    scopes: ['partition-controller'],
    default: 2000,
    min: 0,
  }),
  controllerRelistIntervalMs: int({
    flag: 'relist-interval-ms',
    env: 'TPIPE_CONTROLLER_RELIST_INTERVAL_MS',
    description: 'Watches are restarted from a fresh list at least this often (watches can go silent without ending).',
    scopes: ['partition-controller', 'mqreader'],
    default: 300000,
    min: 100,
  }),
  controllerRestartOnChange: bool({
    flag: 'restart-on-change',
    env: 'TPIPE_CONTROLLER_RESTART_ON_CHANGE',
    description:
      'Fallback: after writing a new assignment, also roll the StatefulSet (restartedAt annotation) instead of relying on live moves.',
    scopes: ['partition-controller'],
    default: false,
  }),
  readerAssignmentConfigMap: str({
    flag: 'assignment-configmap',
    env: 'TPIPE_READER_ASSIGNMENT_CONFIGMAP',
    description:
      'mqreader on Kubernetes: watch this ConfigMap (key partitions.json) through the API for its assignment (under a second, vs. up to a minute for the mounted file).',
    scopes: ['mqreader'],
    pattern: K8S_NAME,
    patternText: K8S_NAME_TEXT,
  }),
} as const
