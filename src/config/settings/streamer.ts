import { bool, custom, int, list, str } from '../types.js'

/** Which of `count` streamer replicas this is (0 <= index < count); prints as `index/count`. */
export interface Shard {
  readonly index: number
  readonly count: number
}

/** `i/n` (0 <= i < n): which of n streamer replicas this is. */
export function parseShard(raw: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(raw)
  const i = m ? Number(m[1]) : NaN
  const n = m ? Number(m[2]) : NaN
  if (!m || !Number.isSafeInteger(i) || !Number.isSafeInteger(n) || n < 1 || i >= n) {
    throw new Error(`expected i/n with 0 <= i < n (e.g. 0/3), got ${JSON.stringify(raw)}`)
  }
  return shard(i, n)
}

export function shard(index: number, count: number): Shard {
  // toString/toJSON: the README table, logs and `redact` show the form the flag takes.
  const text = `${index}/${count}`
  return Object.freeze({ index, count, toString: () => text, toJSON: () => text })
}

/** Messages per second; 0 or "max" means unlimited. */
export function parseRate(raw: string): number {
  const t = raw.trim().toLowerCase()
  if (t === 'max' || t === 'unlimited') return 0
  const n = Number(t)
  if (t === '' || !Number.isFinite(n) || n < 0) throw new Error(`expected messages/s >= 0 or "max", got ${JSON.stringify(raw)}`)
  return n
}

/** streamer: replays a DCGM CSV into mqwriter, one message per publish. */
export const streamer = {
  streamerCsv: str({
    flag: 'csv',
    env: 'TPIPE_CSV',
    description: 'DCGM exporter CSV to stream; a .gz file is decompressed as it streams and never written back (the chart ships charts/streamer/files/telemetry.csv.gz).',
    scopes: ['streamer'],
    required: true,
  }),
  streamerMqwriterUrls: list({
    flag: 'mqwriter',
    env: 'TPIPE_MQWRITER_URL',
    description: 'mqwriter base URL; several comma-separated URLs are used in turn.',
    scopes: ['streamer', 'scraper'],
    required: true,
  }),
  streamerLoops: int({
    flag: 'loops',
    env: 'TPIPE_STREAMER_LOOPS',
    description: 'Passes over the file; 0 loops forever. With N > 0 the streamer exits 0 after the last publish is answered.',
    scopes: ['streamer'],
    default: 0,
    min: 0,
  }),
  streamerRate: custom({
    flag: 'rate',
    env: 'TPIPE_STREAMER_RATE',
    description: 'Publishes per second; 0 or "max" means as fast as mqwriter answers.',
    scopes: ['streamer'],
    kind: 'number >= 0 or "max"',
    default: 0,
    parse: parseRate,
  }),
  streamerInFlight: int({
    flag: 'in-flight',
    env: 'TPIPE_STREAMER_IN_FLIGHT',
    description: 'Publishes awaiting an answer at once (each is one message).',
    scopes: ['streamer'],
    default: 64,
    min: 1,
    max: 4096,
  }),
  streamerShard: custom({
    flag: 'shard',
    env: 'TPIPE_STREAMER_SHARD',
    description: 'i/n: this replica sends only the data rows whose index mod n is i, so n replicas split the file.',
    scopes: ['streamer'],
    kind: 'i/n',
    default: shard(0, 1),
    parse: parseShard,
  }),
  streamerWriteBack: bool({
    flag: 'write-back',
    env: 'TPIPE_STREAMER_WRITE_BACK',
    description: 'Write the emitted timestamps back to the CSV once per pass (temp file + rename); switched off by itself on a read-only file.',
    scopes: ['streamer'],
    default: true,
  }),
  streamerKeepTimestamps: bool({
    flag: 'keep-timestamps',
    env: 'TPIPE_STREAMER_KEEP_TIMESTAMPS',
    description: 'Send each row with the timestamp it has in the CSV (replaying a historical export) instead of the time it is sent; rows without a valid timestamp are skipped as bad. Implies no write-back.',
    scopes: ['streamer'],
    default: false,
  }),
  streamerAckLog: str({
    flag: 'ack-log',
    env: 'TPIPE_STREAMER_ACK_LOG',
    description: 'When set, append every msg_uuid mqwriter acknowledged with 201 to this file, one per line (flushed every 200 ms and on exit).',
    scopes: ['streamer'],
  }),
  streamerPublishTimeoutMs: int({
    flag: 'publish-timeout-ms',
    env: 'TPIPE_STREAMER_PUBLISH_TIMEOUT_MS',
    description: 'A publish without an answer after this long is retried (with the same id, so it is never stored twice).',
    scopes: ['streamer'],
    default: 30000,
    min: 100,
  }),
  streamerMaxBackoffMs: int({
    flag: 'max-backoff-ms',
    env: 'TPIPE_STREAMER_MAX_BACKOFF_MS',
    description: 'Upper bound of the exponential backoff between retries of one publish (Retry-After wins when larger).',
    scopes: ['streamer'],
    default: 5000,
    min: 1,
  }),
} as const
