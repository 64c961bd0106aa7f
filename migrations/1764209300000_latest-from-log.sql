-- Up Migration
-- Latest values from a log of each ingest statement's newest sample per series, instead of rescanning
-- the marked minutes. Before, ingest marked a minute dirty and tpipe_refresh_latest() recomputed the
-- newest row per series over every row of each marked minute. Under live ingest the current minute is
-- marked on every batch, so each derive run (every second) rescanned the whole minute so far: at
-- 6,000 rows/s that is ~180,000 rows per run on average, ~30 times the rows that arrived. Measured with
-- pg_stat_statements during `npm run bench -- ingest` (remote_write, 2026-11-30): 653 ms per call,
-- ~20% of all database time, more than the mqreader's loads. Now the ingest trigger appends, per
-- statement, one row per (GPU, metric) it inserted (the statement's newest, from the transition table:
-- at most one per series and batch, append-only, no index, no lock between collectors), and the refresh
-- consumes that log: its work is the rows that arrived since the last run, not the minute.
CREATE TABLE telemetry_latest_log (
  gpu_uuid    text NOT NULL,
  metric_name text NOT NULL,
  value       double precision NOT NULL,
  ts          timestamptz NOT NULL,
  msg_uuid    uuid NOT NULL
);

-- Minutes still marked are applied with the old function before it goes.
SELECT tpipe_refresh_latest();

CREATE OR REPLACE FUNCTION telemetry_mark_dirty() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO telemetry_latest_log (gpu_uuid, metric_name, value, ts, msg_uuid)
  SELECT DISTINCT ON (gpu_uuid, metric_name) gpu_uuid, metric_name, value, ts, msg_uuid
  FROM inserted_rows ORDER BY gpu_uuid, metric_name, ts DESC, msg_uuid DESC;
  INSERT INTO telemetry_dirty_rollups (minute) SELECT DISTINCT date_trunc('minute', ts) FROM inserted_rows;
  RETURN NULL;
END
$$;

-- Consumes the log with DELETE, which takes only committed rows: a statement committing later leaves its
-- rows for the next call. Only series whose newest logged row is newer than the stored one are written.
CREATE OR REPLACE FUNCTION tpipe_refresh_latest() RETURNS bigint LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  n bigint;
BEGIN
  WITH d AS (DELETE FROM telemetry_latest_log RETURNING *),
  newest AS (
    SELECT DISTINCT ON (gpu_uuid, metric_name) gpu_uuid, metric_name, value, ts, msg_uuid
    FROM d ORDER BY gpu_uuid, metric_name, ts DESC, msg_uuid DESC
  )
  INSERT INTO telemetry_latest AS l (gpu_uuid, metric_name, value, ts, msg_uuid)
  SELECT n.gpu_uuid, n.metric_name, n.value, n.ts, n.msg_uuid
  FROM newest AS n LEFT JOIN telemetry_latest AS o ON o.gpu_uuid = n.gpu_uuid AND o.metric_name = n.metric_name
  WHERE o.gpu_uuid IS NULL OR (n.ts, n.msg_uuid) > (o.ts, o.msg_uuid)
  ORDER BY 1, 2
  ON CONFLICT (gpu_uuid, metric_name) DO UPDATE
    SET value = EXCLUDED.value, ts = EXCLUDED.ts, msg_uuid = EXCLUDED.msg_uuid
    WHERE (EXCLUDED.ts, EXCLUDED.msg_uuid) > (l.ts, l.msg_uuid);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

DROP TABLE telemetry_dirty_latest;

-- Every refresh rewrites the latest row of each series that got samples: half-empty pages let those be HOT
-- updates (no index entry per update). Measured: 30 rounds of 5,000 upserts into 40,000 rows, 4.3–6.5 s
-- at the default fillfactor (0% HOT) vs 3.8–3.9 s at 50 (57% HOT).
ALTER TABLE telemetry_latest SET (fillfactor = 50);

-- Down Migration
ALTER TABLE telemetry_latest RESET (fillfactor);
CREATE TABLE telemetry_dirty_latest (
  minute timestamptz NOT NULL
);
SELECT tpipe_refresh_latest();

CREATE OR REPLACE FUNCTION telemetry_mark_dirty() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO telemetry_dirty_latest (minute) SELECT DISTINCT date_trunc('minute', ts) FROM inserted_rows;
  INSERT INTO telemetry_dirty_rollups (minute) SELECT DISTINCT date_trunc('minute', ts) FROM inserted_rows;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION tpipe_refresh_latest() RETURNS bigint LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  n bigint;
BEGIN
  WITH d AS (DELETE FROM telemetry_dirty_latest RETURNING minute),
  m AS (SELECT DISTINCT minute FROM d),
  newest AS (
    SELECT DISTINCT ON (t.gpu_uuid, t.metric_name) t.gpu_uuid, t.metric_name, t.value, t.ts, t.msg_uuid
    FROM m JOIN telemetry AS t ON t.ts >= m.minute AND t.ts < m.minute + interval '1 minute'
    ORDER BY t.gpu_uuid, t.metric_name, t.ts DESC, t.msg_uuid DESC
  )
  INSERT INTO telemetry_latest AS l (gpu_uuid, metric_name, value, ts, msg_uuid)
  SELECT n.gpu_uuid, n.metric_name, n.value, n.ts, n.msg_uuid
  FROM newest AS n LEFT JOIN telemetry_latest AS o ON o.gpu_uuid = n.gpu_uuid AND o.metric_name = n.metric_name
  WHERE o.gpu_uuid IS NULL OR (n.ts, n.msg_uuid) > (o.ts, o.msg_uuid)
  ORDER BY 1, 2
  ON CONFLICT (gpu_uuid, metric_name) DO UPDATE
    SET value = EXCLUDED.value, ts = EXCLUDED.ts, msg_uuid = EXCLUDED.msg_uuid
    WHERE (EXCLUDED.ts, EXCLUDED.msg_uuid) > (l.ts, l.msg_uuid);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

DROP TABLE telemetry_latest_log;
