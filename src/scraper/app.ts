// scraper: pulls dcgm-exporter /metrics (static URLs or pods found through the Kubernetes API), turns
// DCGM samples into telemetry messages with content-derived ids and publishes each scrape as arrays to
// mqwriter. Owns the scrape schedule and per-target health (ScrapeManager), target discovery and the
// rendezvous sharding between replicas. Must not touch the database: its only output is /v1/publish.
import type { FastifyInstance } from 'fastify'
import type { KubeConfig } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { connectCluster } from '../kube/index.js'
import type { Config } from '../config/index.js'
import { buildServer } from '../http/server.js'
import { Counter, createRegistry, type Registry } from '../metrics/index.js'
import { PodDiscovery } from './discovery.js'
import { TargetsView } from '../protocol/targets.js'
import { ScrapeManager, staticTarget, type Target } from './manager.js'
import { BatchPublisher } from './publish.js'
import { mine, staticMembers } from './shard.js'

type ScraperConfig = Pick<
  Config,
  | 'logLevel'
  | 'bodyLimitBytes'
  | 'metricsEnabled'
  | 'streamerMqwriterUrls'
  | 'dcgmPrefix'
  | 'bundleMax'
  | 'scrapeTargets'
  | 'scrapeDiscovery'
  | 'scrapeIntervalMs'
  | 'scrapeTimeoutMs'
  | 'scrapeConcurrency'
  | 'scrapeMaxBodyBytes'
  | 'scrapeMaxPending'
  | 'scrapePublishBatch'
  | 'scrapePublishInFlight'
  | 'scrapeJob'
  | 'scrapeNamespace'
  | 'scrapeSelector'
  | 'scrapePort'
  | 'scrapePath'
  | 'scrapeRelistMs'
  | 'scrapeShard'
  | 'scrapePeerSelector'
  | 'scrapeIdentity'
  | 'kubeconfig'
  | 'kubeContext'
  | 'namespace'
> & { publishToken?: string | undefined }

export interface ScraperDeps {
  logger: Logger
  registry?: Registry
  /** Tests pass the API fake's KubeConfig. */
  kubeConfig?: KubeConfig
}

export interface ScraperApp {
  app: FastifyInstance
  registry: Registry
  manager: ScrapeManager
  view(): TargetsView
  /** Starts discovery and scraping. */
  start(): void
}

export function buildScraper(config: ScraperConfig, deps: ScraperDeps): ScraperApp {
  if (config.streamerMqwriterUrls === undefined || config.streamerMqwriterUrls.length === 0) throw new Error('scraper: no mqwriter URL (--mqwriter / TPIPE_MQWRITER_URL)')
  if (config.scrapeTimeoutMs >= config.scrapeIntervalMs) throw new Error('scraper: --scrape-timeout-ms must be below --scrape-interval-ms')
  const registry = deps.registry ?? createRegistry({ defaultMetrics: config.metricsEnabled })
  const log = deps.logger
  const retries = new Counter({ name: 'scraper_publish_retries_total', help: 'Publish attempts retried, by reason.', labelNames: ['reason'] as const, registers: [registry] })
  const publisher = new BatchPublisher({
    urls: config.streamerMqwriterUrls,
    inFlight: config.scrapePublishInFlight,
    timeoutMs: 30_000,
    maxBackoffMs: 5000,
    token: config.publishToken,
    bundleMax: config.bundleMax,
    log,
    onRetry: (reason) => retries.inc({ reason }),
  })
  const manager = new ScrapeManager({
    intervalMs: config.scrapeIntervalMs,
    timeoutMs: config.scrapeTimeoutMs,
    concurrency: config.scrapeConcurrency,
    maxBodyBytes: config.scrapeMaxBodyBytes,
    maxPending: config.scrapeMaxPending,
    publishBatch: config.scrapePublishBatch,
    prefix: config.dcgmPrefix,
    job: config.scrapeJob,
    publisher,
    log,
    registry,
  })

  const identity = config.scrapePeerSelector ? config.scrapeIdentity : String(config.scrapeShard.index)
  let members = config.scrapePeerSelector ? [identity] : staticMembers(config.scrapeShard.count)
  let discovered: Target[] = []
  const apply = () => {
    const assigned = mine(discovered, (t) => t.url, members, identity)
    const { added, removed } = manager.setTargets(assigned)
    if (added.length || removed.length) log.info({ added: added.length, removed: removed.length, targets: assigned.length, discovered: discovered.length, members }, 'targets changed')
  }

  let discovery: PodDiscovery | undefined
  if (config.scrapeDiscovery === 'kubernetes') {
    const access = connectCluster({ kubeConfig: deps.kubeConfig, kubeconfig: config.kubeconfig, context: config.kubeContext, namespace: config.namespace })
    discovery = new PodDiscovery({
      kubeConfig: access.kubeConfig,
      namespace: config.scrapeNamespace ?? access.namespace,
      selector: config.scrapeSelector,
      port: config.scrapePort,
      path: config.scrapePath,
      peers: config.scrapePeerSelector ? { namespace: access.namespace, selector: config.scrapePeerSelector } : undefined,
      relistMs: config.scrapeRelistMs,
      onChange: (targets, peers) => {
        discovered = targets
        if (peers) members = peers.length > 0 ? peers : [identity]
        apply()
      },
      onError: (err) => log.warn({ err: (err as Error).message }, 'listing targets failed; scraping the ones known'),
    })
  } else {
    discovered = (config.scrapeTargets ?? []).map(staticTarget)
    if (discovered.length === 0) log.warn('no targets: set --scrape-targets or --scrape-discovery kubernetes')
  }

  const app = buildServer({
    service: 'scraper',
    logLevel: config.logLevel,
    logger: log,
    bodyLimitBytes: config.bodyLimitBytes,
    registry,
    readiness: [{ name: 'discovery', check: () => discovery === undefined || discovery.lists > 0 }],
  })

  const view = (): TargetsView => ({ identity, members: [...members], discovered: discovered.length, targets: manager.health() })

  app.get<{ Reply: TargetsView }>(
    '/v1/targets',
    {
      schema: {
        summary: 'The targets this scraper replica scrapes, with their health',
        response: { 200: TargetsView },
      },
    },
    async () => view(),
  )

  app.addHook('onClose', async () => {
    await discovery?.stop()
    // Scrapes in progress get a few seconds to have their samples committed, not the full retry deadline.
    const giveUp = setTimeout(() => publisher.stop(), 5000)
    await manager.stop()
    clearTimeout(giveUp)
    await publisher.close()
  })

  return {
    app,
    registry,
    manager,
    view,
    start() {
      if (discovery) discovery.start()
      else apply()
    },
  }
}
