import { formatDuration, parseDuration } from '../../telemetry/time.js'
import { custom, int } from '../types.js'

function duration(minMs: number, maxMs: number) {
  return (raw: string): number => {
    const ms = parseDuration(raw)
    if (ms === undefined) throw new Error(`expected a duration such as 12h, 7d or 2w, got ${JSON.stringify(raw)}`)
    if (ms < minMs || ms > maxMs) throw new Error(`expected a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)}, got ${raw}`)
    return ms
  }
}

const HOUR = 3_600_000
const DAY = 24 * HOUR

/**
 * Telemetry storage: partitions, retention and the maintenance loop. The collector runs the loop (it is
 * the writer and needs the partitions; one replica at a time holds the advisory lock); `tpipe db
 * maintain` runs one pass by hand.
 */
export const telemetry = {
  telemetryRetentionMs: custom({
    flag: 'telemetry-retention',
    env: 'TPIPE_TELEMETRY_RETENTION',
    description:
      'Raw telemetry older than this is dropped, one whole partition at a time. Default 7d: at the measured 6,000–8,000 rows/s a day is about 500 million rows, so a week is what one PostgreSQL node holds comfortably; longer windows are served from the per-minute and hourly rollups.',
    scopes: ['collector', 'cli', 'apigw'],
    kind: 'duration (1h..3650d)',
    default: 7 * DAY,
    defaultText: '7d',
    parse: duration(HOUR, 3650 * DAY),
  }),
  rollupRetentionMs: custom({
    flag: 'rollup-retention',
    env: 'TPIPE_ROLLUP_RETENTION',
    description:
      'Per-minute rollups (telemetry_1m) older than this are dropped (7-day partitions). Default 90d: a quarter of history at 1/60 of the raw row count per GPU and metric. apigw reads it to pick the table that still holds a window.',
    scopes: ['collector', 'cli', 'apigw'],
    kind: 'duration (1d..3650d)',
    default: 90 * DAY,
    defaultText: '90d',
    parse: duration(DAY, 3650 * DAY),
  }),
  rollup1hRetentionMs: custom({
    flag: 'rollup-1h-retention',
    env: 'TPIPE_ROLLUP_1H_RETENTION',
    description:
      'Hourly rollups (telemetry_1h) older than this are dropped (28-day partitions). Default 400d: this month can be compared with the same month a year ago; at 1/60 of the minute rows that is ~24M rows for 2,500 GPU × metric series, a thirteenth of what the minutes hold over 90d. Keep it at least TPIPE_ROLLUP_RETENTION: apigw answers whole-hour steps from the hours only where they cover the window, else from the minutes.',
    scopes: ['collector', 'cli', 'apigw'],
    kind: 'duration (1d..3650d)',
    default: 400 * DAY,
    defaultText: '400d',
    parse: duration(DAY, 3650 * DAY),
  }),
  telemetryPartitionMs: custom({
    flag: 'telemetry-partition-interval',
    env: 'TPIPE_TELEMETRY_PARTITION_INTERVAL',
    description: 'Time range of one raw telemetry partition, aligned to the Unix epoch (1d: UTC days). Retention drops whole partitions, so it is also its granularity. Changing it affects only partitions created afterwards.',
    scopes: ['collector', 'cli'],
    kind: 'duration (1h..7d)',
    default: DAY,
    defaultText: '1d',
    parse: duration(HOUR, 7 * DAY),
  }),
  maintenanceIntervalMs: int({
    flag: 'maintenance-interval-ms',
    env: 'TPIPE_MAINTENANCE_INTERVAL_MS',
    description: 'How often the collector runs telemetry maintenance (create partitions ahead, drop past retention); 0 disables the loop (run `tpipe db maintain` instead).',
    scopes: ['collector'],
    default: 300_000,
    min: 0,
  }),
  deriveIntervalMs: int({
    flag: 'derive-interval-ms',
    env: 'TPIPE_DERIVE_INTERVAL_MS',
    description:
      'How often the collector updates the latest-value table and the per-minute and hourly rollups from what ingest recorded (each batch’s newest sample per series, the minutes that got rows; one run at a time across replicas); 0 disables it. Rollups of a minute (and its hour) are computed once it has had no new rows for 5 s.',
    scopes: ['collector'],
    default: 1000,
    min: 0,
  }),
} as const
