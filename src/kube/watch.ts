// Watching one named object (the mqreader StatefulSet, the assignment ConfigMap) robustly. The client's
// informers do not restart after an error, and a watch can end (server timeout, API server restart) or
// go silent without ending, so this loop does it by hand: list (fieldSelector metadata.name=…) →
// watch from the list's resourceVersion → on end, error or 410 Gone, list again after a backoff; and
// list again every relist interval whatever happens, which also covers a silent watch.
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node'
import { sleep } from '../util/async.js'

export interface ObjectWatchOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig
  /** Collection path, e.g. /apis/apps/v1/namespaces/tpipe/statefulsets. */
  path: string
  name: string
  /** Lists the collection with fieldSelector metadata.name=<name> (typed API call of the caller). */
  list: (fieldSelector: string) => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>
  relistIntervalMs: number
  /** First backoff after a failure; doubles up to maxBackoffMs. */
  backoffMs?: number
  maxBackoffMs?: number
  /** The object as it is now; undefined when it does not exist. Called after every list and every event. */
  onObject: (obj: T | undefined) => void
  onError?: (err: unknown, phase: 'list' | 'watch') => void
}

export class ObjectWatch<T extends KubernetesObject> {
  private stopped = false
  private readonly stopSignal = new AbortController()
  private current: AbortController | undefined
  private endCurrent: (() => void) | undefined
  private loop: Promise<void> | undefined
  /** Lists done; a test or /readyz can see that the watch has caught up at least once. */
  lists = 0
  /** Watch connections opened. */
  watches = 0

  constructor(private readonly opts: ObjectWatchOptions<T>) {}

  get synced(): boolean {
    return this.lists > 0
  }

  start(): void {
    this.loop ??= this.run()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.stopSignal.abort()
    this.current?.abort()
    this.endCurrent?.()
    await this.loop
  }

  private async run(): Promise<void> {
    const base = this.opts.backoffMs ?? 200
    const max = this.opts.maxBackoffMs ?? 10_000
    let backoff = base
    const fieldSelector = `metadata.name=${this.opts.name}`
    while (!this.stopped) {
      let rv: string | undefined
      try {
        const list = await this.opts.list(fieldSelector)
        if (this.stopped) return
        this.lists++
        this.opts.onObject(list.items.find((o) => o.metadata?.name === this.opts.name))
        rv = list.metadata?.resourceVersion
      } catch (err) {
        if (this.stopped) return
        this.opts.onError?.(err, 'list')
        await sleep(backoff, this.stopSignal.signal)
        backoff = Math.min(backoff * 2, max)
        continue
      }
      const started = Date.now()
      const err = await this.watchOnce(fieldSelector, rv)
      if (this.stopped) return
      if (err) this.opts.onError?.(err, 'watch')
      // A watch that lasted a while was healthy: start the backoff again from the bottom.
      if (Date.now() - started > 5 * base) backoff = base
      await sleep(backoff, this.stopSignal.signal)
      if (err) backoff = Math.min(backoff * 2, max)
    }
  }

  /** Resolves when the watch ends (undefined: ended cleanly or relist due; else the error). */
  private watchOnce(fieldSelector: string, resourceVersion: string | undefined): Promise<unknown> {
    return new Promise<unknown>((resolve) => {
      let finished = false
      const finish = (err?: unknown) => {
        if (finished) return
        finished = true
        clearTimeout(relistTimer)
        this.endCurrent = undefined
        this.current?.abort()
        this.current = undefined
        resolve(err)
      }
      this.endCurrent = () => finish()
      const relistTimer = setTimeout(() => finish(), this.opts.relistIntervalMs)
      this.watches++
      const query: Record<string, string> = { fieldSelector, allowWatchBookmarks: 'true' }
      if (resourceVersion) query.resourceVersion = resourceVersion
      new Watch(this.opts.kubeConfig)
        .watch(
          this.opts.path,
          query,
          (type, obj: T & { code?: number; message?: string }) => {
            if (finished) return
            if (type === 'BOOKMARK') return
            if (type === 'ERROR') {
              // 410 Gone: our resourceVersion is too old; a fresh list fixes it.
              finish(obj?.code === 410 ? undefined : new Error(`watch error ${obj?.code ?? ''}: ${obj?.message ?? JSON.stringify(obj)}`))
              return
            }
            if (obj?.metadata?.name !== this.opts.name) return
            this.opts.onObject(type === 'DELETED' ? undefined : obj)
          },
          (err: unknown) => {
            const aborted = (err as { name?: string } | null)?.name === 'AbortError'
            finish(err && !aborted ? err : undefined)
          },
        )
        .then(
          (ctrl) => {
            if (finished) ctrl.abort()
            else this.current = ctrl
          },
          (err: unknown) => finish(err),
        )
    })
  }
}
