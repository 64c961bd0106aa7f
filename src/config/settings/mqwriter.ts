import { int } from '../types.js'

/** mqwriter: the write side of the queue (buffer + group commit). */
export const mqwriter = {
  writerBatchSize: int({
    flag: 'batch-size',
    env: 'TPIPE_WRITER_BATCH_SIZE',
    description: 'Messages per flush (one transaction: one INSERT up to 4,096 rows); a flush starts when this many are buffered.',
    scopes: ['mqwriter'],
    default: 2000,
    min: 1,
    max: 50000,
  }),
  writerFlushIntervalMs: int({
    flag: 'flush-interval-ms',
    env: 'TPIPE_WRITER_FLUSH_INTERVAL_MS',
    description:
      'Age limit of a batch while a flush slot is free (0 = the same event-loop turn). When every slot is busy, the batch grows until one frees (natural batching).',
    scopes: ['mqwriter'],
    default: 1,
    min: 0,
    max: 10000,
  }),
  writerBufferCapacity: int({
    flag: 'buffer-capacity',
    env: 'TPIPE_WRITER_BUFFER_CAPACITY',
    description: 'Messages buffered or being flushed at most; beyond it publishes get 429 (backpressure).',
    scopes: ['mqwriter'],
    default: 20000,
    min: 1,
  }),
  writerBufferBytes: int({
    flag: 'buffer-bytes',
    env: 'TPIPE_WRITER_BUFFER_BYTES',
    description: 'Bytes of serialised payloads buffered or being flushed at most (bounds the writer memory); beyond it publishes get 429.',
    scopes: ['mqwriter'],
    default: 64 * 1024 * 1024,
    min: 1024 * 1024,
  }),
  writerBatchBytes: int({
    flag: 'batch-bytes',
    env: 'TPIPE_WRITER_BATCH_BYTES',
    description: 'Bytes of serialised payloads per flush at most: a batch is sealed when it reaches them (one statement parameter stays small).',
    scopes: ['mqwriter'],
    default: 8 * 1024 * 1024,
    min: 64 * 1024,
  }),
  writerPublishTimeoutMs: int({
    flag: 'publish-timeout-ms',
    env: 'TPIPE_WRITER_PUBLISH_TIMEOUT_MS',
    description:
      'A publish (POST /v1/publish or remote_write) is answered within this: 201/204 once committed, otherwise 503 with Retry-After (the message may still commit: re-publish with the same id). A flush running longer makes /readyz false.',
    scopes: ['mqwriter'],
    default: 10000,
    min: 100,
  }),
  writerFlushConcurrency: int({
    flag: 'flush-concurrency',
    env: 'TPIPE_WRITER_FLUSH_CONCURRENCY',
    description: 'Flushes (transactions) in flight at once; the next batch fills while earlier ones commit.',
    scopes: ['mqwriter'],
    default: 2,
    min: 1,
    max: 32,
  }),
  writerMaxPublishBatch: int({
    flag: 'max-publish-batch',
    env: 'TPIPE_WRITER_MAX_PUBLISH_BATCH',
    description: 'Most messages accepted in one POST /v1/publish array.',
    scopes: ['mqwriter'],
    default: 1000,
    min: 1,
  }),
  writerRetryAfterSeconds: int({
    flag: 'retry-after-seconds',
    env: 'TPIPE_WRITER_RETRY_AFTER_SECONDS',
    description: 'Retry-After sent with 429 (buffer full) and 503 (database unavailable).',
    scopes: ['mqwriter'],
    default: 1,
    min: 0,
  }),
} as const
