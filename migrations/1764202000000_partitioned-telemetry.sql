-- Up Migration
-- Telemetry at fleet scale (issue 14): range-partitioned on the sample time, a latest-value table for
-- the fleet view and per-minute rollups for long windows, derived within seconds of ingest by an
-- incremental job from the minutes the ingest trigger marks (see 6).
--
-- Partitions are created ahead of time and dropped past retention by the maintenance loop
-- (src/telemetry/maintain.ts, `tpipe db maintain`), which calls tpipe_ensure_partition() below.
-- Rows for a time without a partition (late or far-future samples) land in the DEFAULT partition:
-- never lost, never an error; maintenance moves them into their partition when it creates it.

-- 1. The old table steps aside (its rows are copied below, then it is dropped).
ALTER TABLE telemetry RENAME TO telemetry_unpartitioned;
ALTER INDEX telemetry_pkey RENAME TO telemetry_unpartitioned_pkey;
ALTER INDEX telemetry_gpu_uuid_ts_idx RENAME TO telemetry_unpartitioned_gpu_uuid_ts_idx;
DROP TRIGGER telemetry_gpus_after_insert ON telemetry_unpartitioned;

-- 2. Same columns. PostgreSQL requires the partition key in every unique constraint, so the dedup key
-- becomes (ts, msg_uuid): a redelivered message carries the same payload, hence the same ts, and
-- ON CONFLICT (ts, msg_uuid) DO NOTHING still makes it a no-op.
CREATE TABLE telemetry (
  msg_uuid    uuid             NOT NULL,
  gpu_uuid    text             NOT NULL,
  gpu_id      smallint         NOT NULL,
  device      text             NOT NULL,
  hostname    text             NOT NULL,
  model_name  text             NOT NULL,
  metric_name text             NOT NULL,
  value       double precision NOT NULL,
  ts          timestamptz      NOT NULL,
  container   text,
  pod         text,
  namespace   text,
  labels      jsonb,
  CONSTRAINT telemetry_pkey PRIMARY KEY (ts, msg_uuid)
) PARTITION BY RANGE (ts);
-- The page index of migration 1764201800000, now per partition.
CREATE INDEX telemetry_gpu_uuid_ts_idx ON telemetry (gpu_uuid, ts, msg_uuid) INCLUDE (metric_name, value);
CREATE TABLE telemetry_default PARTITION OF telemetry DEFAULT;

-- 3. Newest value per GPU and metric: the fleet view (GET /api/v1/gpus?metrics=…) reads ~2,500 rows
-- here instead of scanning telemetry. msg_uuid breaks ties between samples of the same ts, so the row
-- kept is exactly the newest raw row by (ts, msg_uuid). Updated in place: a low fillfactor keeps the
-- updates HOT (no index column changes).
CREATE TABLE telemetry_latest (
  gpu_uuid    text             NOT NULL,
  metric_name text             NOT NULL,
  value       double precision NOT NULL,
  ts          timestamptz      NOT NULL,
  msg_uuid    uuid             NOT NULL,
  CONSTRAINT telemetry_latest_pkey PRIMARY KEY (gpu_uuid, metric_name)
) WITH (fillfactor = 50);

-- 4. Per-minute rollups per GPU and metric (count, sum, min, max and the last value with its (ts,
-- msg_uuid)), partitioned on the minute with their own, longer retention. avg = sum/count; every
-- aggregate the API offers combines exactly from these over any step that is a whole number of minutes.
CREATE TABLE telemetry_1m (
  gpu_uuid    text             NOT NULL,
  metric_name text             NOT NULL,
  bucket      timestamptz      NOT NULL,
  count       bigint           NOT NULL,
  sum         double precision NOT NULL,
  min         double precision NOT NULL,
  max         double precision NOT NULL,
  last        double precision NOT NULL,
  last_ts     timestamptz      NOT NULL,
  last_msg    uuid             NOT NULL,
  CONSTRAINT telemetry_1m_pkey PRIMARY KEY (gpu_uuid, metric_name, bucket)
) PARTITION BY RANGE (bucket);
-- One metric across the fleet (GET /api/v1/telemetry): PostgreSQL 17 has no skip scan on the primary key.
CREATE INDEX telemetry_1m_metric_bucket_idx ON telemetry_1m (metric_name, bucket);
CREATE TABLE telemetry_1m_default PARTITION OF telemetry_1m DEFAULT;

-- 5. Create (or find) the partition of `parent` for [lo, hi). Rows of that range already in the default
-- partition are moved into it, so a late sample that arrived before its partition existed ends up in
-- the right place. The new table is attached rather than created as PARTITION OF: ATTACH takes only a
-- SHARE UPDATE EXCLUSIVE lock on the parent, so ingest and reads go on. Rows moved are inserted straight
-- into the new table: the parent's triggers already counted them when they first arrived.
-- SECURITY DEFINER (run as the schema owner) with a fixed search_path, so a service role may be granted
-- EXECUTE on these three functions without owning the tables.
CREATE FUNCTION tpipe_ensure_partition(parent text, key text, lo timestamptz, hi timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  name text := parent || '_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD')
               || CASE WHEN lo = date_trunc('day', lo AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' THEN '' ELSE to_char(lo AT TIME ZONE 'UTC', '"_"HH24MI') END;
  opts text := CASE parent WHEN 'telemetry' THEN 'autovacuum_vacuum_insert_scale_factor = 0.02' ELSE 'fillfactor = 70' END;
BEGIN
  IF parent NOT IN ('telemetry', 'telemetry_1m') OR key <> (CASE parent WHEN 'telemetry' THEN 'ts' ELSE 'bucket' END) THEN
    RAISE EXCEPTION 'tpipe_ensure_partition: % (%) is not a partitioned telemetry table', parent, key;
  END IF;
  IF to_regclass(quote_ident(name)) IS NOT NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS) WITH (%s)', name, parent, opts);
  EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved',
                 parent || '_default', key, key, name) USING lo, hi;
  -- A CHECK matching the bound lets ATTACH skip scanning the new table.
  EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I >= %L AND %I < %L)', name, name || '_bound', key, lo, key, hi);
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, name, lo, hi);
  EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', name, name || '_bound');
  RETURN name;
END
$$;

-- Retention: drop one partition of `parent` (never the default, never another table). Constant time
-- whatever its rows: the files go, no DELETE, no bloat.
CREATE FUNCTION tpipe_drop_partition(parent text, name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF parent NOT IN ('telemetry', 'telemetry_1m') OR name = parent || '_default' OR NOT EXISTS (
    SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(quote_ident(name)) AND inhparent = to_regclass(quote_ident(parent))
  ) THEN
    RAISE EXCEPTION 'tpipe_drop_partition: % is not a partition of %', name, parent;
  END IF;
  EXECUTE format('DROP TABLE %I', name);
END
$$;

-- Retention for the default partition: its rows older than the horizon (late samples that never got a
-- partition) are deleted; it holds few rows, so this DELETE stays small.
CREATE FUNCTION tpipe_expire_default(parent text, key text, horizon timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  n bigint;
BEGIN
  IF parent NOT IN ('telemetry', 'telemetry_1m') THEN
    RAISE EXCEPTION 'tpipe_expire_default: % is not a partitioned telemetry table', parent;
  END IF;
  EXECUTE format('DELETE FROM %I WHERE %I < $1', parent || '_default', key) USING horizon;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

-- 6. Latest values and rollups are derived by an incremental job (the collector runs it every second,
-- src/telemetry/derive.ts), not in the ingest transaction: measured on a 2,000-row batch, upserting
-- both in the batch's own statement made each persist ~65% slower (one latest and one rollup row
-- updated per sample: each batch carries about one sample per GPU and metric). Ingest only records
-- which minutes got rows, twice (one queue per consumer): a row per batch and minute, not per sample.
-- Like the gpus trigger it sees only rows really inserted, so redeliveries mark nothing.
CREATE TABLE telemetry_dirty_latest (
  minute timestamptz NOT NULL
);
CREATE TABLE telemetry_dirty_rollups (
  minute    timestamptz NOT NULL,
  marked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX telemetry_dirty_rollups_minute_idx ON telemetry_dirty_rollups (minute);

CREATE FUNCTION telemetry_mark_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO telemetry_dirty_latest (minute) SELECT DISTINCT date_trunc('minute', ts) FROM inserted_rows;
  INSERT INTO telemetry_dirty_rollups (minute) SELECT DISTINCT date_trunc('minute', ts) FROM inserted_rows;
  RETURN NULL;
END
$$;

-- The latest values from the minutes marked since the last call: only series whose newest row is newer
-- than the stored one are written (no lock, no update otherwise). Marks are consumed with DELETE, which
-- takes only committed ones: rows committing later leave their marks for the next call.
CREATE FUNCTION tpipe_refresh_latest() RETURNS bigint LANGUAGE plpgsql AS $$
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

-- Rollups of the marked minutes that have been quiet for `quiet` (no new mark), or marked for longer than
-- `max_wait`: each minute is recomputed whole from the raw rows (replacing its rollup rows), so it is
-- exact however its rows arrived, and a minute still receiving rows is not recomputed every second.
CREATE FUNCTION tpipe_refresh_rollups(quiet interval DEFAULT '5 seconds', max_wait interval DEFAULT '60 seconds') RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  WITH due AS (
    SELECT minute FROM telemetry_dirty_rollups GROUP BY minute
    HAVING max(marked_at) <= now() - quiet OR min(marked_at) <= now() - max_wait
  ),
  d AS (DELETE FROM telemetry_dirty_rollups WHERE minute IN (SELECT minute FROM due) RETURNING minute),
  m AS (SELECT DISTINCT minute FROM d)
  INSERT INTO telemetry_1m AS r (gpu_uuid, metric_name, bucket, count, sum, min, max, last, last_ts, last_msg)
  SELECT t.gpu_uuid, t.metric_name, m.minute, count(*), sum(t.value), min(t.value), max(t.value),
         (array_agg(t.value ORDER BY t.ts DESC, t.msg_uuid DESC))[1], max(t.ts),
         (array_agg(t.msg_uuid ORDER BY t.ts DESC, t.msg_uuid DESC))[1]
  FROM m JOIN telemetry AS t ON t.ts >= m.minute AND t.ts < m.minute + interval '1 minute'
  GROUP BY 1, 2, 3
  ORDER BY 1, 2, 3
  ON CONFLICT (gpu_uuid, metric_name, bucket) DO UPDATE
    SET count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
        last = EXCLUDED.last, last_ts = EXCLUDED.last_ts, last_msg = EXCLUDED.last_msg;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

-- Same name and function as before for gpus; fires first (triggers fire in name order).
CREATE TRIGGER telemetry_gpus_after_insert
  AFTER INSERT ON telemetry
  REFERENCING NEW TABLE AS inserted_rows
  FOR EACH STATEMENT EXECUTE FUNCTION telemetry_upsert_gpus();
CREATE TRIGGER telemetry_mark_dirty_after_insert
  AFTER INSERT ON telemetry
  REFERENCING NEW TABLE AS inserted_rows
  FOR EACH STATEMENT EXECUTE FUNCTION telemetry_mark_dirty();

-- 7. Partitions for the rows already there (one per day that has rows; at most 1,000 days, any other
-- row goes to the default partition), for today and the next two days, and week partitions for their
-- rollups. The maintenance loop takes over from here with the configured interval.
DO $$
DECLARE
  d timestamptz;
BEGIN
  FOR d IN
    SELECT day FROM (
      SELECT DISTINCT date_trunc('day', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day FROM telemetry_unpartitioned
      UNION SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + make_interval(days => i) FROM generate_series(0, 2) AS i
    ) AS days ORDER BY day DESC LIMIT 1000
  LOOP
    PERFORM tpipe_ensure_partition('telemetry', 'ts', d, d + interval '1 day');
  END LOOP;
  FOR d IN
    SELECT DISTINCT to_timestamp(floor(extract(epoch FROM day) / 604800) * 604800) FROM (
      SELECT DISTINCT date_trunc('day', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day FROM telemetry_unpartitioned
      UNION SELECT now() + make_interval(days => i) FROM generate_series(0, 7) AS i
    ) AS days ORDER BY 1 DESC LIMIT 200
  LOOP
    PERFORM tpipe_ensure_partition('telemetry_1m', 'bucket', d, d + interval '7 days');
  END LOOP;
END
$$;

-- 8. Every row moves over; the derived tables are filled from them once. Inserting into the partitioned
-- parent fires the triggers, so latest and rollups are built by the same code as after ingest.
INSERT INTO telemetry SELECT msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts, container, pod, namespace, labels
FROM telemetry_unpartitioned;
DROP TABLE telemetry_unpartitioned;
SELECT tpipe_refresh_latest(), tpipe_refresh_rollups('0 seconds');

-- Down Migration
DROP TRIGGER telemetry_mark_dirty_after_insert ON telemetry;
DROP TRIGGER telemetry_gpus_after_insert ON telemetry;
ALTER TABLE telemetry RENAME TO telemetry_partitioned;
ALTER INDEX telemetry_pkey RENAME TO telemetry_partitioned_pkey;
ALTER INDEX telemetry_gpu_uuid_ts_idx RENAME TO telemetry_partitioned_gpu_uuid_ts_idx;
CREATE TABLE telemetry (
  msg_uuid    uuid             PRIMARY KEY,
  gpu_uuid    text             NOT NULL,
  gpu_id      smallint         NOT NULL,
  device      text             NOT NULL,
  hostname    text             NOT NULL,
  model_name  text             NOT NULL,
  metric_name text             NOT NULL,
  value       double precision NOT NULL,
  ts          timestamptz      NOT NULL,
  container   text,
  pod         text,
  namespace   text,
  labels      jsonb
);
-- A message could sit twice in the partitioned table only with two different ts: keep the first.
INSERT INTO telemetry SELECT msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts, container, pod, namespace, labels
FROM telemetry_partitioned ON CONFLICT (msg_uuid) DO NOTHING;
CREATE INDEX telemetry_gpu_uuid_ts_idx ON telemetry (gpu_uuid, ts, msg_uuid) INCLUDE (metric_name, value);
ALTER TABLE telemetry SET (autovacuum_vacuum_insert_scale_factor = 0.02);
CREATE TRIGGER telemetry_gpus_after_insert
  AFTER INSERT ON telemetry
  REFERENCING NEW TABLE AS inserted_rows
  FOR EACH STATEMENT EXECUTE FUNCTION telemetry_upsert_gpus();
DROP TABLE telemetry_partitioned;
DROP TABLE telemetry_1m;
DROP TABLE telemetry_latest;
DROP FUNCTION telemetry_mark_dirty();
DROP FUNCTION tpipe_refresh_latest();
DROP FUNCTION tpipe_refresh_rollups(interval, interval);
DROP TABLE telemetry_dirty_latest;
DROP TABLE telemetry_dirty_rollups;
DROP FUNCTION tpipe_ensure_partition(text, text, timestamptz, timestamptz);
DROP FUNCTION tpipe_drop_partition(text, text);
DROP FUNCTION tpipe_expire_default(text, text, timestamptz);
