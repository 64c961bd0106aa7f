// The collector's Prometheus metrics (names are part of the operator interface: dashboards and alerts).
import { Counter, Histogram, type Registry } from '../metrics/index.js'

export function collectorMetrics(registry: Registry) {
  return {
    persisted: new Counter({ name: 'collector_rows_persisted_total', help: 'Telemetry rows inserted (redelivered duplicates excluded).', registers: [registry] }),
    received: new Counter({ name: 'collector_messages_received_total', help: 'Messages received in leases (a bundle of samples counts once; its samples are counted in collector_rows_persisted_total).', registers: [registry] }),
    unpartitioned: new Counter({
      name: 'collector_rows_unpartitioned_total',
      help: 'Telemetry rows stored in the default partition: late or far-future samples whose time has no partition yet (kept; maintenance moves them into their partition when it creates it).',
      registers: [registry],
    }),
    seriesWritten: new Counter({
      name: 'collector_series_written_total',
      help: 'Label sets written to telemetry_series with their rows (new to this collector, or due for a last_seen refresh); rows carry only the series id.',
      registers: [registry],
    }),
    deadLetters: new Counter({ name: 'collector_dead_letters_total', help: 'Poison messages written to dead_letters.', registers: [registry] }),
    batchDuration: new Histogram({
      name: 'collector_batch_duration_seconds',
      help: 'Time to persist one lease (one statement).',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    leaseErrors: new Counter({ name: 'collector_lease_errors_total', help: 'Lease or ack requests that failed (reader unreachable, 5xx).', registers: [registry] }),
    ackRejected: new Counter({
      name: 'collector_acks_rejected_total',
      help: 'Acks answered 409 (lease expired first; the rows are already persisted, redelivery is harmless).',
      registers: [registry],
    }),
    unstorable: new Counter({ name: 'collector_messages_unstorable_total', help: 'Messages the database refused even as a dead letter (logged, then acked).', registers: [registry] }),
    released: new Counter({
      name: 'collector_messages_released_total',
      help: 'Messages handed back to their reader unprocessed (POST /v1/release: on stop, or when the reader left the reader set): delivered again at once instead of after the visibility timeout.',
      registers: [registry],
    }),
    releaseFailures: new Counter({
      name: 'collector_release_failures_total',
      help: 'Release requests that failed (reader unreachable, timeout): those leases wait for their visibility timeout instead.',
      registers: [registry],
    }),
    persistFailures: new Counter({ name: 'collector_persist_failures_total', help: 'Batches not persisted (not acked: they will be redelivered).', registers: [registry] }),
    persistDuplicates: new Counter({
      name: 'collector_persist_duplicates_total',
      help: 'Batches that held rows already stored (redeliveries): written first without ON CONFLICT, they failed on a unique violation and were written again skipping those rows.',
      registers: [registry],
    }),
    persistRetries: new Counter({
      name: 'collector_persist_retries_total',
      help: 'Persist statements (a whole lease, or one row or dead letter while isolating a bad message) run again at once after losing a race, by reason: deadlock (chosen as a deadlock victim), serialization, partition_moved (a partition attached under the statement).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  }
}

export type CollectorMetrics = ReturnType<typeof collectorMetrics>
