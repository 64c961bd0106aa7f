// Metrics: one prom-client Registry per service instance (no global registry, so two services can
// live in one test process). Services create their metrics on the registry they are given.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export { Counter, Gauge, Histogram, Registry }

export function createRegistry(opts: { defaultMetrics?: boolean; prefix?: string } = {}): Registry {
  const registry = new Registry()
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, ...(opts.prefix ? { prefix: opts.prefix } : {}) })
  return registry
}

/** Reads the current value of a counter or gauge (sum over label sets), for status views and tests. */
export async function metricValue(registry: Registry, name: string, labels?: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name)
  if (!m) return 0
  const data = await m.get()
  let sum = 0
  for (const v of data.values) {
    if (labels && !Object.entries(labels).every(([k, val]) => v.labels[k] === val)) continue
    const metricName = (v as { metricName?: string }).metricName
    if (metricName && metricName !== name) continue // histogram buckets/count: only plain series count
    sum += v.value
  }
  return sum
}
