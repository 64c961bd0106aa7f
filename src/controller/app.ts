// The partition-controller service: composition root of one controller replica (cluster access,
// metrics, the controller) behind the common HTTP skeleton (/healthz, /readyz, /metrics).
// Ready once the StatefulSet has been listed; followers are ready too (they are warm standbys).
import type { KubeConfig } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { ClusterUnavailableError, connectCluster, type ClusterAccess } from '../kube/index.js'
import type { Config } from '../config/index.js'
import { buildServer, httpLimits } from '../http/server.js'
import type { Service } from '../http/service.js'
import { createRegistry, type Registry } from '../metrics/index.js'
import { PartitionController } from './controller.js'

export interface ControllerDeps {
  logger: Logger
  /** A ready KubeConfig (tests); otherwise resolved from the config (kubeconfig, context, in-cluster). */
  kubeConfig?: KubeConfig
}

export interface ControllerApp extends Service {
  controller: PartitionController
  registry: Registry
  /** Starts watching the StatefulSet and campaigning for the Lease. */
  start(): void
  /** Stops both and releases the Lease, so the standby takes over without waiting for expiry. */
  stop(): Promise<void>
}

export function buildPartitionController(config: Config, deps: ControllerDeps): ControllerApp {
  let access: ClusterAccess
  try {
    access = connectCluster({ kubeConfig: deps.kubeConfig, kubeconfig: config.kubeconfig, context: config.kubeContext, namespace: config.namespace })
  } catch (err) {
    if (err instanceof ClusterUnavailableError) throw new Error(`partition-controller cannot reach Kubernetes: ${err.reason}`, { cause: err })
    throw err
  }
  const registry = createRegistry({ defaultMetrics: config.metricsEnabled })
  const controller = new PartitionController({
    kubeConfig: access.kubeConfig,
    namespace: access.namespace,
    statefulSet: config.controllerStatefulSet,
    configMap: config.controllerConfigMap,
    leaseName: config.controllerLeaseName,
    identity: config.controllerIdentity,
    leaseDurationMs: config.controllerLeaseDurationMs,
    renewDeadlineMs: config.controllerRenewDeadlineMs,
    retryPeriodMs: config.controllerRetryPeriodMs,
    debounceMs: config.controllerDebounceMs,
    relistIntervalMs: config.controllerRelistIntervalMs,
    restartOnChange: config.controllerRestartOnChange,
    log: deps.logger,
    registry,
  })
  const app = buildServer({
    service: 'partition-controller',
    logger: deps.logger,
    bodyLimitBytes: config.bodyLimitBytes,
    limits: httpLimits(config),
    registry,
    readiness: [{ name: 'statefulset-watch', check: () => controller.watch.synced }],
  })
  app.get('/v1/status', async () => controller.status())
  // Release the Lease on a graceful shutdown so the standby takes over without waiting for expiry.
  app.addHook('onClose', async () => controller.stop({ release: true }))
  deps.logger.info({ namespace: access.namespace, server: access.server, identity: config.controllerIdentity }, 'partition-controller configured')
  return { app, controller, registry, start: () => controller.start(), stop: () => controller.stop({ release: true }) }
}
