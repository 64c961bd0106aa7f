-- Up Migration
-- Queue payloads stored uncompressed (out of line, STORAGE EXTERNAL) where the server has no lz4, instead of
-- pglz. Migration 1764210100000 gave them lz4 where the server has it; a server without (the embedded
-- PostgreSQL of `tpipe dev` and the benchmarks, custom builds) kept pglz, and pglz_compress was then 5.5% of
-- all the machine's CPU under remote_write ingest at 1 + 1 (perf -a, 2026-12-02). Measured on the embedded
-- server with the ingest suite's rows (bench/queue-insert.ts, 4 interleaved rounds): the queue INSERT 6.46
-- (pglz) -> 3.59 µs of the database's time a sample; the price is bytes: WAL 105 -> 445 B and stored 101 ->
-- 431 B a sample, for rows that live seconds (a reader deletes them on ack). Servers with lz4 keep lz4, which
-- is as fast and as small as pglz (docs/live-sources.md).
DO $$
BEGIN
  IF (SELECT attcompression FROM pg_attribute WHERE attrelid = 'queue_messages'::regclass AND attname = 'payload') <> 'l' THEN
    ALTER TABLE queue_messages ALTER COLUMN payload SET STORAGE EXTERNAL;
    RAISE NOTICE 'without lz4, queue payloads are stored uncompressed instead (about 4x their WAL; docs/live-sources.md)';
  END IF;
END
$$;

-- Down Migration
ALTER TABLE queue_messages ALTER COLUMN payload SET STORAGE EXTENDED;
