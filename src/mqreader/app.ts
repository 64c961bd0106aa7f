// mqreader: the read side of the queue. Owns the PartitionOwner (fenced partition ownership, ready
// messages, leases, acks) and its HTTP API: POST /v1/lease, POST /v1/ack, POST /v1/release, GET|PUT /v1/assignment,
// GET /v1/stats. Only SELECTs and DELETEs queue_messages; never writes telemetry (the collector does).
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../config/index.js'
import type { Pool } from '../db/pool.js'
import { TpipeError } from '../errors.js'
import { requireToken } from '../http/auth.js'
import { buildServer, httpLimits } from '../http/server.js'
import type { Service } from '../http/service.js'
import { Counter, Gauge, createRegistry, type Registry } from '../metrics/index.js'
import { PARTITION_COUNT } from '../partitions/hash.js'
import { AssignmentPut, AssignmentView, parsePartitionList } from '../protocol/assignment.js'
import { AckAnswer, ReleaseAnswer, ReleaseRequest, ackRequestSchema, leaseRequestSchema, renderLease, type AckRequest, type LeaseRequest } from '../protocol/lease.js'
import { OwnerStats } from '../protocol/stats.js'
import { watchAssignmentFile, type FileWatch } from './assignment-file.js'
import { connectCluster } from '../kube/index.js'
import { watchAssignmentConfigMap, type AssignmentWatch } from './assignment-configmap.js'
import { PartitionOwner, type OwnerEvent } from './owner.js'

export interface MqreaderDeps {
  pool: Pool
  /** The lock session connects on its own (not from the pool): it must live as long as the locks. */
  databaseUrl: string
  logger?: Logger
  registry?: Registry
  /** Ownership and lease events (tests check fencing with them). */
  onEvent?: (e: OwnerEvent) => void
}

export type ReaderConfig = Pick<
  Config,
  | 'logLevel'
  | 'bodyLimitBytes'
  | 'metricsEnabled'
  | 'partitions'
  | 'assignmentFile'
  | 'readerAssignmentConfigMap'
  | 'kubeconfig'
  | 'kubeContext'
  | 'namespace'
  | 'controllerRelistIntervalMs'
  | 'readerName'
  | 'readerVisibilityTimeoutMs'
  | 'readerMaxMessages'
  | 'readerMaxBytes'
  | 'readerLowWater'
  | 'readerLoadBatch'
  | 'readerRefillIntervalMs'
  | 'readerLeaseMax'
  | 'readerLeaseMaxBytes'
  | 'readerMaxWaitMs'
  | 'readerMaxWaiters'
  | 'readerAckDelayMs'
  | 'readerDrainTimeoutMs'
  | 'readerLockRetryMs'
  | 'readerAssignmentPollMs'
  | 'queueToken'
  | 'controlToken'
  | 'httpRequestTimeoutMs'
  | 'httpHeadersTimeoutMs'
  | 'httpIdleTimeoutMs'
  | 'jsonMaxDepth'
>

export { MAX_GENERATION } from '../protocol/assignment.js'

export interface MqreaderApp extends Service {
  app: FastifyInstance
  owner: PartitionOwner
  registry: Registry
  /** Starts following the assignment (file, ConfigMap or --partitions): the owner takes partitions from here on. */
  start(): void
}

export function buildMqreader(config: ReaderConfig, deps: MqreaderDeps): MqreaderApp {
  const registry = deps.registry ?? createRegistry({ defaultMetrics: config.metricsEnabled })
  const app = buildServer({
    service: 'mqreader',
    logLevel: config.logLevel,
    ...(deps.logger ? { logger: deps.logger } : {}),
    bodyLimitBytes: config.bodyLimitBytes,
    limits: httpLimits(config),
    registry,
    readiness: [{ name: 'partitions', check: () => owner.ready }],
    // Requests keep being answered while the reader drains: acks are what let a drain end early, and a
    // lease gets the owner's own 503 (JSON error body) instead of fastify's default one.
    // The queue's bodies are typed exactly: "max": "1", true or [1] are refused, never coerced.
    fastify: {
      return503OnClosing: false,
      ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: true } },
    },
  })
  const counters = {
    acked: new Counter({ name: 'mqreader_messages_acked_total', help: 'Messages acked (deleted from queue_messages).', registers: [registry] }),
    expired: new Counter({ name: 'mqreader_leases_expired_total', help: 'Leases that reached their visibility timeout unacked.', registers: [registry] }),
    redelivered: new Counter({ name: 'mqreader_messages_redelivered_total', help: 'Messages made ready again after an expired lease or a failed ack.', registers: [registry] }),
    released: new Counter({ name: 'mqreader_leases_released_total', help: 'Leases handed back unprocessed by their collector (POST /v1/release).', registers: [registry] }),
    releasedMessages: new Counter({
      name: 'mqreader_messages_released_total',
      help: 'Messages of released leases: ready again at once (not a delivery attempt), or left for the next owner of a partition this reader gives up.',
      registers: [registry],
    }),
    releaseUnknown: new Counter({ name: 'mqreader_release_unknown_total', help: 'Lease ids in releases that were no longer out (expired, acked or released already): ignored.', registers: [registry] }),
  }
  const owner = new PartitionOwner({
    name: config.readerName,
    databaseUrl: deps.databaseUrl,
    pool: deps.pool,
    log: app.log as unknown as Logger,
    visibilityTimeoutMs: config.readerVisibilityTimeoutMs,
    maxMessages: config.readerMaxMessages,
    maxBytes: config.readerMaxBytes,
    lowWater: Math.min(config.readerLowWater, config.readerMaxMessages),
    loadBatch: config.readerLoadBatch,
    refillIntervalMs: config.readerRefillIntervalMs,
    leaseMax: config.readerLeaseMax,
    leaseMaxBytes: config.readerLeaseMaxBytes,
    maxWaitMs: config.readerMaxWaitMs,
    maxWaiters: config.readerMaxWaiters,
    ackDelayMs: config.readerAckDelayMs,
    drainTimeoutMs: config.readerDrainTimeoutMs,
    lockRetryMs: config.readerLockRetryMs,
    ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
    onCount: (what, n) => counters[what].inc(n),
  })

  new Gauge({ name: 'mqreader_buffer_utilization', help: 'The larger of (ready + leased) / max messages and their bytes / max bytes (0..1); the autoscaling signal.', registers: [registry], collect() { this.set(owner.utilization()) } })
  new Gauge({ name: 'mqreader_held_bytes', help: 'Bytes of the ready and leased messages in memory (bounded by TPIPE_READER_MAX_BYTES).', registers: [registry], collect() { this.set(owner.heldBytes) } })
  new Gauge({ name: 'mqreader_ready_messages', help: 'Messages in memory ready to lease.', registers: [registry], collect() { this.set(owner.readyMessages) } })
  new Gauge({ name: 'mqreader_leased_messages', help: 'Messages in unexpired, unacked leases.', registers: [registry], collect() { this.set(owner.leasedMessages) } })
  new Gauge({ name: 'mqreader_partitions_owned', help: 'Partitions this reader holds the lock of and serves.', registers: [registry], collect() { this.set(owner.partitionsOwned) } })

  let fileWatch: FileWatch | undefined
  let apiWatch: AssignmentWatch | undefined
  // Assignment sources all feed owner.applyAssignment, whose generation check keeps the newest: the
  // ConfigMap watch through the API (changes in under a second) and the mounted file (the kubelet
  // updates it within about a minute) can both be on, the file then being the fallback. They start
  // with the service (runService calls start() once the app listens), not when it is built.
  function start(): void {
    if (config.readerAssignmentConfigMap) {
      const access = connectCluster({ kubeconfig: config.kubeconfig, context: config.kubeContext, namespace: config.namespace })
      apiWatch = watchAssignmentConfigMap(
        {
          kubeConfig: access.kubeConfig,
          namespace: access.namespace,
          configMap: config.readerAssignmentConfigMap,
          readerName: config.readerName,
          relistIntervalMs: config.controllerRelistIntervalMs,
          log: app.log as unknown as Logger,
        },
        owner,
      )
    }
    if (config.assignmentFile) {
      fileWatch = watchAssignmentFile(config.assignmentFile, config.readerName, owner, { pollMs: config.readerAssignmentPollMs, log: app.log as unknown as Logger })
    } else if (!apiWatch) {
      owner.applyAssignment({ generation: 0, partitions: config.partitions ?? Array.from({ length: PARTITION_COUNT }, (_, i) => i) })
    }
  }

  const queueAuth = requireToken(config.queueToken, 'TPIPE_QUEUE_TOKEN')
  const controlAuth = requireToken(config.controlToken, 'TPIPE_CONTROL_TOKEN')

  const limits = { leaseMax: config.readerLeaseMax, maxWaitMs: config.readerMaxWaitMs }
  app.post<{ Body: LeaseRequest }>(
    '/v1/lease',
    {
      onRequest: queueAuth,
      schema: {
        summary: 'Lease up to max ready messages for visibility_timeout_ms; wait_ms long-polls when none are ready',
        description: `Fewer than max when their bytes would pass ${config.readerLeaseMaxBytes} (lease-max-bytes) or max_bytes, whichever is smaller (a single larger message still goes alone). The answer is a LeaseAnswer (src/protocol/lease.ts), rendered as text.`,
        body: leaseRequestSchema(limits),
      },
    },
    async (request, reply) => {
      const b = request.body
      const abort = new AbortController()
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) abort.abort()
      })
      const lease = await owner.lease(b.max, b.visibility_timeout_ms ?? config.readerVisibilityTimeoutMs, b.wait_ms ?? 0, abort.signal, b.max_bytes)
      return reply.header('content-type', 'application/json; charset=utf-8').send(renderLease(lease))
    },
  )

  app.post<{ Body: AckRequest; Reply: AckAnswer }>(
    '/v1/ack',
    {
      onRequest: queueAuth,
      schema: {
        summary: 'Ack a lease (all of it, or the listed msg_uuids); answers after the DELETE commits',
        body: ackRequestSchema(limits),
        response: { 200: AckAnswer },
      },
    },
    async (request) => {
      const b = request.body
      const acked = await owner.ack(b.lease_id, b.msg_uuids)
      return { acked }
    },
  )

  app.post<{ Body: ReleaseRequest; Reply: ReleaseAnswer }>(
    '/v1/release',
    {
      onRequest: queueAuth,
      schema: {
        summary: 'Hand leases back unprocessed: their messages are ready again at once (not a delivery attempt)',
        description:
          'A collector that stops, or stops using this reader, returns the leases it has not persisted. In a partition this reader is giving up, the messages are left for the next owner and the drain ends as soon as nothing else is outstanding. Unknown or expired lease ids are ignored and counted (unknown); a later ack of a released lease gets 409.',
        body: ReleaseRequest,
        response: { 200: ReleaseAnswer },
      },
    },
    async (request) => {
      const r = owner.release(request.body.lease_ids)
      return { released_leases: r.leases, released_messages: r.messages, unknown: r.unknown }
    },
  )

  app.get<{ Reply: AssignmentView }>('/v1/assignment', { schema: { response: { 200: AssignmentView } } }, async () => owner.view())

  app.put<{ Body: AssignmentPut; Reply: AssignmentView }>(
    '/v1/assignment',
    {
      onRequest: controlAuth,
      schema: {
        summary: 'Replace the owned partition set (an older generation than the one in force gets 409)',
        body: AssignmentPut,
        response: { 200: AssignmentView },
      },
    },
    async (request) => {
      const b = request.body
      let partitions: number[]
      try {
        partitions = parsePartitionList(b.partitions)
      } catch (err) {
        throw new TpipeError('TPIPE_ERR_VALIDATION', `body/partitions: ${(err as Error).message}`)
      }
      return owner.applyAssignment({ generation: b.generation, partitions })
    },
  )

  app.get<{ Reply: OwnerStats }>('/v1/stats', { schema: { response: { 200: OwnerStats } } }, async () => owner.stats())

  // preClose runs while the server still accepts requests: collectors can ack during the drain.
  app.addHook('preClose', async () => {
    fileWatch?.close()
    await apiWatch?.stop()
    await owner.shutdown()
  })
  app.addHook('onClose', async () => {
    fileWatch?.close()
    await owner.close()
  })

  return { app, owner, registry, start }
}
