// GET /v1/stats of the collector (CollectorStats, src/protocol/stats.ts): its readers and its totals,
// read from the same registry /metrics serves.
import { metricValue, type Registry } from '../metrics/index.js'
import type { CollectorStats } from '../protocol/stats.js'
import type { Endpoint } from './readers.js'

export async function collectorStats(registry: Registry, readers: readonly Endpoint[], running: boolean, leasesInFlight: number): Promise<CollectorStats> {
  return {
    readers: readers.map((e) => e.origin + e.basePath),
    running,
    leases_in_flight: leasesInFlight,
    messages_received_total: await metricValue(registry, 'collector_messages_received_total'),
    rows_persisted_total: await metricValue(registry, 'collector_rows_persisted_total'),
    dead_letters_total: await metricValue(registry, 'collector_dead_letters_total'),
    lease_errors_total: await metricValue(registry, 'collector_lease_errors_total'),
    messages_released_total: await metricValue(registry, 'collector_messages_released_total'),
  }
}
