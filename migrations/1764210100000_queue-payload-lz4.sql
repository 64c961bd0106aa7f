-- Up Migration
-- Queue payloads compressed with lz4 instead of pglz, where the server has lz4 (PostgreSQL 14+ built with
-- it: the official postgres image the chart runs, Debian's and most distributions' packages). A remote_write
-- bundle row is ~100 KB of JSON, always TOASTed and compressed on INSERT, and read back once by a reader
-- seconds later: pglz_compress was ~10% of PostgreSQL's CPU under remote_write ingest (perf, 2026-12-02).
-- Measured on Debian's PostgreSQL 15 with the ingest suite's rows (bench/queue-insert.ts, 4 interleaved
-- rounds): the queue INSERT 7.40 -> 3.70 µs of the database's time a sample, with the same WAL and stored
-- bytes (101-102 B a sample) and the same read-back time. Stored uncompressed (STORAGE EXTERNAL) it took 4.65
-- µs but wrote 4.3x the WAL. A server without lz4 (the embedded PostgreSQL of `tpipe dev`) keeps pglz (until
-- migration 1764210200000, which stores them uncompressed there).
-- Only values written from now on are affected; rows already queued stay readable either way.
DO $$
BEGIN
  ALTER TABLE queue_messages ALTER COLUMN payload SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'this PostgreSQL is built without lz4: queue payloads are not lz4-compressed';
END
$$;

-- Down Migration
ALTER TABLE queue_messages ALTER COLUMN payload SET COMPRESSION DEFAULT;
