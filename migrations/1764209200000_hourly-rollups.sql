-- Up Migration
-- Hourly rollups (issue 14): a 30-day query at step=1h read 43,200 per-minute rows of one GPU and metric
-- (p99 233 ms on the 50M-row bench; target < 100 ms). telemetry_1h holds the same columns per hour (720
-- rows for 30 days), kept by the same job in the same transaction as the minutes: a minute rolled up for
-- the first time is combined into its hour; an hour with a recomputed minute (late samples) is recomputed
-- whole from its ≤ 60 minute rows. So it is exact however (and however late) its samples arrived. The
-- apigw reads it for steps that are whole hours.
--
-- Partitions: 28 days, aligned to the Unix epoch like the minute table's 7-day partitions (so every hour
-- partition boundary is also a minute partition boundary). The maintenance loop keeps them with their own
-- retention (TPIPE_ROLLUP_1H_RETENTION, default 400d: about 15 partitions; a 30-day window touches 2 or 3).
-- Calendar months would need variable-size slots, which the maintenance loop's epoch-aligned slots do not
-- have; 7-day partitions would make ~58 of them for 400 days, for ~45,000 hour rows each on a 247-GPU fleet.
CREATE TABLE telemetry_1h (
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
  -- Covering, as telemetry_1m's key (migration 1764209100000): a bucketed query is an index-only scan.
  CONSTRAINT telemetry_1h_pkey PRIMARY KEY (gpu_uuid, metric_name, bucket) INCLUDE (count, sum, min, max, last, last_ts, last_msg)
) PARTITION BY RANGE (bucket);
-- One metric across the fleet (GET /api/v1/telemetry): covering too (hour rows are few, so the copy is cheap).
CREATE INDEX telemetry_1h_metric_bucket_idx ON telemetry_1h (metric_name, bucket, gpu_uuid) INCLUDE (count, sum, min, max, last, last_ts, last_msg);
CREATE TABLE telemetry_1h_default PARTITION OF telemetry_1h DEFAULT;

-- The partition functions of migration 1764202000000 accept the new table (same bodies otherwise).
-- CREATE OR REPLACE keeps their owner and grants.
CREATE OR REPLACE FUNCTION tpipe_ensure_partition(parent text, key text, lo timestamptz, hi timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  name text := parent || '_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD')
               || CASE WHEN lo = date_trunc('day', lo AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' THEN '' ELSE to_char(lo AT TIME ZONE 'UTC', '"_"HH24MI') END;
  opts text := CASE parent WHEN 'telemetry' THEN 'autovacuum_vacuum_insert_scale_factor = 0.02' ELSE 'fillfactor = 70' END;
BEGIN
  IF parent NOT IN ('telemetry', 'telemetry_1m', 'telemetry_1h') OR key <> (CASE parent WHEN 'telemetry' THEN 'ts' ELSE 'bucket' END) THEN
    RAISE EXCEPTION 'tpipe_ensure_partition: % (%) is not a partitioned telemetry table', parent, key;
  END IF;
  IF to_regclass(quote_ident(name)) IS NOT NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS) WITH (%s)', name, parent, opts);
  EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved',
                 parent || '_default', key, key, name) USING lo, hi;
  EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I >= %L AND %I < %L)', name, name || '_bound', key, lo, key, hi);
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, name, lo, hi);
  EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', name, name || '_bound');
  RETURN name;
END
$$;

CREATE OR REPLACE FUNCTION tpipe_drop_partition(parent text, name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF parent NOT IN ('telemetry', 'telemetry_1m', 'telemetry_1h') OR name = parent || '_default' OR NOT EXISTS (
    SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(quote_ident(name)) AND inhparent = to_regclass(quote_ident(parent))
  ) THEN
    RAISE EXCEPTION 'tpipe_drop_partition: % is not a partition of %', name, parent;
  END IF;
  EXECUTE format('DROP TABLE %I', name);
END
$$;

CREATE OR REPLACE FUNCTION tpipe_expire_default(parent text, key text, horizon timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  n bigint;
BEGIN
  IF parent NOT IN ('telemetry', 'telemetry_1m', 'telemetry_1h') THEN
    RAISE EXCEPTION 'tpipe_expire_default: % is not a partitioned telemetry table', parent;
  END IF;
  EXECUTE format('DELETE FROM %I WHERE %I < $1', parent || '_default', key) USING horizon;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

-- The rollup job of migration 1764202000000, now also for hours, in the same transaction: an hour is never
-- behind its minutes. The minutes due are recomputed from the raw rows as before. Then each (series, hour)
-- they touch is brought up to date:
--   - only minutes that had no row yet (the usual case: a minute rolled up once, after it went quiet): they
--     are combined into the hour row (count and sum added, min/max, last by (last_ts, last_msg)), reading no
--     minute rows at all;
--   - any minute recomputed (late samples, or rows that arrived after its first rollup): the hour is
--     recomputed whole from its ≤ 60 minute rows (an index-only range scan of telemetry_1m's covering key).
-- Either way the hour equals the aggregate of its minutes, so it is exact however and however late its
-- samples arrived. `last` is the sample with the greatest (ts, msg_uuid), as in telemetry_1m. Hours are UTC
-- (epoch-aligned), whatever the session's TimeZone. Whether a minute had a row is read from the snapshot
-- the statement starts with (one derive run at a time: the advisory lock). Returns the minute rows written,
-- as before. Measured for 2,470 series (247 GPUs × 10 metrics × 6 samples a minute, 2 cores at load 7,
-- interleaved with the job before this change): a new minute 110 ms before, 200–340 ms now (the hour rows
-- are written too); recomputing every series' hour from its minutes instead was 530–910 ms a minute. A late
-- minute for every series (all hours recomputed): 180–210 ms before, 530–620 ms now.
CREATE OR REPLACE FUNCTION tpipe_refresh_rollups(quiet interval DEFAULT '5 seconds', max_wait interval DEFAULT '60 seconds') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  n bigint;
  mins timestamptz[];
  gs text[];
  ms text[];
  bs timestamptz[];
  h timestamptz;
BEGIN
  WITH due AS (
    SELECT minute FROM telemetry_dirty_rollups GROUP BY minute
    HAVING max(marked_at) <= now() - quiet OR min(marked_at) <= now() - max_wait
  ),
  d AS (DELETE FROM telemetry_dirty_rollups WHERE minute IN (SELECT minute FROM due) RETURNING minute)
  SELECT array_agg(DISTINCT minute) INTO mins FROM d;
  IF mins IS NULL THEN
    RETURN 0;
  END IF;

  WITH agg AS (
    SELECT t.gpu_uuid, t.metric_name, m.minute AS bucket, count(*) AS count, sum(t.value) AS sum, min(t.value) AS min, max(t.value) AS max,
           (array_agg(t.value ORDER BY t.ts DESC, t.msg_uuid DESC))[1] AS last, max(t.ts) AS last_ts,
           (array_agg(t.msg_uuid ORDER BY t.ts DESC, t.msg_uuid DESC))[1] AS last_msg
    FROM unnest(mins) AS m(minute) JOIN telemetry AS t ON t.ts >= m.minute AND t.ts < m.minute + interval '1 minute'
    GROUP BY 1, 2, 3
  ),
  ins AS (
    INSERT INTO telemetry_1m AS r (gpu_uuid, metric_name, bucket, count, sum, min, max, last, last_ts, last_msg)
    SELECT gpu_uuid, metric_name, bucket, count, sum, min, max, last, last_ts, last_msg FROM agg
    ORDER BY 1, 2, 3
    ON CONFLICT (gpu_uuid, metric_name, bucket) DO UPDATE
      SET count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
          last = EXCLUDED.last, last_ts = EXCLUDED.last_ts, last_msg = EXCLUDED.last_msg
    RETURNING 1
  ),
  -- Per series and hour: the new minutes combined, and whether any of them replaced an existing row.
  hours AS (
    SELECT a.gpu_uuid, a.metric_name, date_trunc('hour', a.bucket, 'UTC') AS hour, bool_or(o.bucket IS NOT NULL) AS recompute,
           sum(a.count) AS count, sum(a.sum) AS sum, min(a.min) AS min, max(a.max) AS max,
           (array_agg(a.last ORDER BY a.last_ts DESC, a.last_msg DESC))[1] AS last, max(a.last_ts) AS last_ts,
           (array_agg(a.last_msg ORDER BY a.last_ts DESC, a.last_msg DESC))[1] AS last_msg
    FROM agg AS a
    LEFT JOIN telemetry_1m AS o ON o.gpu_uuid = a.gpu_uuid AND o.metric_name = a.metric_name AND o.bucket = a.bucket
    GROUP BY 1, 2, 3
  ),
  combined AS (
    INSERT INTO telemetry_1h AS r (gpu_uuid, metric_name, bucket, count, sum, min, max, last, last_ts, last_msg)
    SELECT gpu_uuid, metric_name, hour, count, sum, min, max, last, last_ts, last_msg FROM hours WHERE NOT recompute
    ORDER BY 1, 2, 3
    ON CONFLICT (gpu_uuid, metric_name, bucket) DO UPDATE
      SET count = r.count + EXCLUDED.count, sum = r.sum + EXCLUDED.sum,
          min = least(r.min, EXCLUDED.min), max = greatest(r.max, EXCLUDED.max),
          last = CASE WHEN (EXCLUDED.last_ts, EXCLUDED.last_msg) > (r.last_ts, r.last_msg) THEN EXCLUDED.last ELSE r.last END,
          last_msg = CASE WHEN (EXCLUDED.last_ts, EXCLUDED.last_msg) > (r.last_ts, r.last_msg) THEN EXCLUDED.last_msg ELSE r.last_msg END,
          last_ts = greatest(r.last_ts, EXCLUDED.last_ts)
    RETURNING 1
  )
  -- (combined runs whether or not it is read: a data-modifying WITH always runs to completion.)
  SELECT (SELECT count(*) FROM ins), array_agg(gpu_uuid), array_agg(metric_name), array_agg(hour) INTO n, gs, ms, bs
  FROM hours WHERE recompute;

  -- Hours with a recomputed minute: whole, from their minute rows (now including this run's), one
  -- statement per hour, per series a LATERAL aggregate over its ≤ 60 rows (measured: 200–430 ms for 2,470
  -- series; one grouped join over the same rows sorted all 148,200 of them on disk, 600–1,050 ms).
  FOR h IN SELECT DISTINCT x FROM unnest(bs) AS x ORDER BY 1 LOOP
    INSERT INTO telemetry_1h AS r (gpu_uuid, metric_name, bucket, count, sum, min, max, last, last_ts, last_msg)
    SELECT k.g, k.m, h, a.count, a.sum, a.min, a.max, a.last, a.last_ts, a.last_msg
    FROM (SELECT DISTINCT k.g, k.m FROM unnest(gs, ms, bs) AS k(g, m, b) WHERE k.b = h) AS k
    CROSS JOIN LATERAL (
      SELECT sum(t.count) AS count, sum(t.sum) AS sum, min(t.min) AS min, max(t.max) AS max,
             (array_agg(t.last ORDER BY t.last_ts DESC, t.last_msg DESC))[1] AS last, max(t.last_ts) AS last_ts,
             (array_agg(t.last_msg ORDER BY t.last_ts DESC, t.last_msg DESC))[1] AS last_msg
      FROM telemetry_1m AS t
      WHERE t.gpu_uuid = k.g AND t.metric_name = k.m AND t.bucket >= h AND t.bucket < h + interval '1 hour'
    ) AS a
    WHERE a.count IS NOT NULL
    ORDER BY 1, 2
    ON CONFLICT (gpu_uuid, metric_name, bucket) DO UPDATE
      SET count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
          last = EXCLUDED.last, last_ts = EXCLUDED.last_ts, last_msg = EXCLUDED.last_msg;
  END LOOP;
  RETURN n;
END
$$;

-- Who may do what (migrations 1764209000000 and 1764209000001): apigw and the dashboards' viewer read the
-- hours; the collector writes them only through tpipe_refresh_rollups (SECURITY DEFINER, above) and counts
-- the rows waiting in the default partition during maintenance, as for telemetry_1m.
GRANT SELECT ON telemetry_1h TO tpipe_apigw, tpipe_viewer;
GRANT SELECT ON telemetry_1h_default TO tpipe_collector;

-- Partitions for the hours the existing minutes cover (from telemetry_1m's partition bounds and the
-- slots of rows in its default partition, at most 200), and for now and the next two slots; then the
-- hours themselves, from telemetry_1m, in one statement: an upgraded install answers long windows at once.
DO $$
DECLARE
  span CONSTANT bigint := 28 * 86400;
  k bigint;
BEGIN
  FOR k IN
    SELECT DISTINCT s FROM (
      SELECT generate_series(floor(extract(epoch FROM lo) / span)::bigint, floor((extract(epoch FROM hi) - 1) / span)::bigint) AS s
      FROM (
        SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz AS lo,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz AS hi
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'telemetry_1m'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
      ) AS bounds
      UNION SELECT DISTINCT floor(extract(epoch FROM bucket) / span)::bigint FROM telemetry_1m_default
      UNION SELECT floor(extract(epoch FROM now()) / span)::bigint + i FROM generate_series(0, 2) AS i
    ) AS slots ORDER BY 1 DESC LIMIT 200
  LOOP
    PERFORM tpipe_ensure_partition('telemetry_1h', 'bucket', to_timestamp(k * span), to_timestamp((k + 1) * span));
  END LOOP;
END
$$;

-- The hour's last is its newest minute's last (a minute's last_ts lies within that minute), so the hours
-- need no ordered aggregate over the whole table: one hash aggregate over the minutes finds each hour's
-- sums and newest minute, whose row is then read from telemetry_1m's covering key (one probe per hour).
-- For this statement only (SET LOCAL: migrations run in one transaction): memory for the aggregate, and
-- no hash or merge join (which would read the minutes a second time). Measured on 1.2M minute rows (247
-- GPUs × 10 metrics × 8 h, 2 busy cores): 2.4 s; the planner's default (spilling aggregate, hash join) 17 s
-- for 3.6M rows, an ordered aggregate 5.4 s for 1.2M.
SET LOCAL work_mem = '256MB';
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_mergejoin = off;
INSERT INTO telemetry_1h (gpu_uuid, metric_name, bucket, count, sum, min, max, last, last_ts, last_msg)
SELECT a.gpu_uuid, a.metric_name, a.hour, a.count, a.sum, a.min, a.max, l.last, l.last_ts, l.last_msg
FROM (
  SELECT gpu_uuid, metric_name, date_trunc('hour', bucket, 'UTC') AS hour, sum(count) AS count, sum(sum) AS sum,
         min(min) AS min, max(max) AS max, max(bucket) AS newest
  FROM telemetry_1m GROUP BY 1, 2, 3
) AS a
JOIN telemetry_1m AS l ON l.gpu_uuid = a.gpu_uuid AND l.metric_name = a.metric_name AND l.bucket = a.newest;
RESET work_mem;
RESET enable_hashjoin;
RESET enable_mergejoin;
ANALYZE telemetry_1h;

-- Down Migration
-- The job and the partition functions as before (migrations 1764202000000 and 1764209000000), then the table.
CREATE OR REPLACE FUNCTION tpipe_refresh_rollups(quiet interval DEFAULT '5 seconds', max_wait interval DEFAULT '60 seconds') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
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

CREATE OR REPLACE FUNCTION tpipe_ensure_partition(parent text, key text, lo timestamptz, hi timestamptz) RETURNS text
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
  EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I >= %L AND %I < %L)', name, name || '_bound', key, lo, key, hi);
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, name, lo, hi);
  EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', name, name || '_bound');
  RETURN name;
END
$$;

CREATE OR REPLACE FUNCTION tpipe_drop_partition(parent text, name text) RETURNS void
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

CREATE OR REPLACE FUNCTION tpipe_expire_default(parent text, key text, horizon timestamptz) RETURNS bigint
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

DROP TABLE telemetry_1h;
