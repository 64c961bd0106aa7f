import { int, list, str } from '../types.js'

/** collector: leases from the readers, writes telemetry rows, acks. */
export const collector = {
  readers: list({
    flag: 'readers',
    env: 'TPIPE_READERS',
    description: 'mqreader base URLs, comma-separated. A host name resolving to several addresses (a headless Service) counts as several readers; re-resolved periodically. Required unless --readers-file is set.',
    scopes: ['collector'],
  }),
  collectorReadersFile: str({
    flag: 'readers-file',
    env: 'TPIPE_READERS_FILE',
    description: 'File listing mqreader base URLs (one per line), read again at every resolve interval, so readers added or removed are followed without a restart (tpipe dev writes it). Used instead of --readers.',
    scopes: ['collector'],
  }),
  collectorLeasesInFlight: int({
    flag: 'leases-in-flight',
    env: 'TPIPE_COLLECTOR_LEASES_IN_FLIGHT',
    description: 'Leases this collector works on at once (lease → persist → ack loops).',
    scopes: ['collector'],
    default: 3,
    min: 1,
    max: 64,
  }),
  collectorLeaseSize: int({
    flag: 'lease-size',
    env: 'TPIPE_COLLECTOR_LEASE_SIZE',
    description: 'Messages asked for per lease (one telemetry INSERT per lease).',
    scopes: ['collector'],
    default: 2000,
    min: 1,
  }),
  collectorLeaseBytes: int({
    flag: 'lease-bytes',
    env: 'TPIPE_COLLECTOR_LEASE_BYTES',
    description: 'Most bytes of messages asked for per lease (sent as max_bytes; the reader’s lease-max-bytes still applies). Bounds one telemetry INSERT when messages are bundles of many samples (remote_write): 1 MiB is about 2,500 samples.',
    scopes: ['collector'],
    default: 1048576,
    min: 1024,
  }),
  collectorLeaseWaitMs: int({
    flag: 'lease-wait-ms',
    env: 'TPIPE_COLLECTOR_LEASE_WAIT_MS',
    description: 'Long-poll time of a lease request when every reader was recently empty.',
    scopes: ['collector'],
    default: 2000,
    min: 0,
  }),
  collectorLeaseVisibilityMs: int({
    flag: 'lease-visibility-ms',
    env: 'TPIPE_COLLECTOR_LEASE_VISIBILITY_MS',
    description: 'Lease duration asked for; unset means the reader’s default.',
    scopes: ['collector'],
    min: 100,
  }),
  collectorErrorBackoffMs: int({
    flag: 'error-backoff-ms',
    env: 'TPIPE_COLLECTOR_ERROR_BACKOFF_MS',
    description: 'First pause after a failed lease or persist; doubles per failure up to 20×.',
    scopes: ['collector'],
    default: 250,
    min: 1,
  }),
  collectorResolveIntervalMs: int({
    flag: 'resolve-interval-ms',
    env: 'TPIPE_COLLECTOR_RESOLVE_INTERVAL_MS',
    description: 'How often reader host names are resolved again (readers added or removed).',
    scopes: ['collector'],
    default: 10000,
    min: 100,
  }),
} as const
