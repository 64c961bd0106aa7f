// Target discovery on Kubernetes: the dcgm-exporter pods found through the API by label selector,
// re-listed every relist interval (nodes come and go; a list is cheap at fleet sizes and cannot go
// silent the way a watch can), and the ready scraper peers found the same way for sharding.
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node'
import { sleep } from '../cluster/kube.js'
import type { Target } from './manager.js'

export interface PodDiscoveryOptions {
  kubeConfig: KubeConfig
  /** Namespace of the dcgm-exporter pods. */
  namespace: string
  selector: string
  /** Used when the pod has no container port named "metrics". */
  port: number
  path: string
  /** Scraper pods (own namespace) sharing the targets; unset = no peers (static shard). */
  peers?: { namespace: string; selector: string } | undefined
  relistMs: number
  onChange: (targets: Target[], peers: string[] | undefined) => void
  onError?: (err: unknown) => void
}

function ready(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp) return false
  if (pod.status?.phase !== 'Running' || !pod.status.podIP) return false
  return (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
}

/** A ready dcgm-exporter pod → its scrape target; undefined for pods that cannot be scraped now. */
export function podTarget(pod: V1Pod, port: number, path: string): Target | undefined {
  if (!ready(pod)) return undefined
  const ip = pod.status!.podIP!
  let p = port
  for (const c of pod.spec?.containers ?? []) for (const cp of c.ports ?? []) if (cp.name === 'metrics') p = cp.containerPort
  const host = ip.includes(':') ? `[${ip}]` : ip
  const url = `http://${host}:${p}${path.startsWith('/') ? path : `/${path}`}`
  return { url, instance: `${host}:${p}`, fallbackHost: pod.spec?.nodeName ?? pod.metadata?.name ?? ip }
}

export class PodDiscovery {
  private readonly core: CoreV1Api
  private readonly stopping = new AbortController()
  private loop: Promise<void> | undefined
  /** Completed lists; /readyz waits for the first. */
  lists = 0
  private last = ''

  constructor(private readonly opts: PodDiscoveryOptions) {
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api)
  }

  start(): void {
    this.loop ??= this.run()
  }

  async stop(): Promise<void> {
    this.stopping.abort()
    await this.loop
  }

  /** One list of targets (and peers); calls onChange when either changed. */
  async listOnce(): Promise<void> {
    const { opts } = this
    const pods = await this.core.listNamespacedPod({ namespace: opts.namespace, labelSelector: opts.selector })
    const targets = pods.items
      .map((p) => podTarget(p, opts.port, opts.path))
      .filter((t): t is Target => t !== undefined)
      .sort((a, b) => a.url.localeCompare(b.url))
    let peers: string[] | undefined
    if (opts.peers) {
      const list = await this.core.listNamespacedPod({ namespace: opts.peers.namespace, labelSelector: opts.peers.selector })
      peers = list.items
        .filter(ready)
        .map((p) => p.metadata!.name!)
        .sort()
    }
    this.lists++
    const key = JSON.stringify([targets.map((t) => t.url), peers])
    if (key === this.last) return
    this.last = key
    opts.onChange(targets, peers)
  }

  private async run(): Promise<void> {
    let backoff = 200
    while (!this.stopping.signal.aborted) {
      try {
        await this.listOnce()
        backoff = 200
        await sleep(this.opts.relistMs, this.stopping.signal)
      } catch (err) {
        if (this.stopping.signal.aborted) return
        // Keep the targets we have: an API outage must not stop the scraping.
        this.opts.onError?.(err)
        await sleep(Math.min(backoff, this.opts.relistMs), this.stopping.signal).catch(() => {})
        backoff = Math.min(backoff * 2, 10_000)
      }
    }
  }
}
