-- Up Migration
-- tpipe_refresh_latest() looked each series up twice: a LEFT JOIN to telemetry_latest kept only rows newer
-- than the stored one, then ON CONFLICT found the same row again (with the same "newer" test in its WHERE).
-- The ON CONFLICT test alone gives the same result (only newer rows are written; ROW_COUNT counts the same
-- rows), with one index probe per series instead of two. Under live remote_write ingest every sample is a
-- series' newest, so the refresh upserts about as many rows as arrive: measured in one session, 14,000 log
-- rows over 40,000 stored series, five interleaved rounds: median 172 -> 126 ms.
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
  FROM newest AS n
  ORDER BY 1, 2
  ON CONFLICT (gpu_uuid, metric_name) DO UPDATE
    SET value = EXCLUDED.value, ts = EXCLUDED.ts, msg_uuid = EXCLUDED.msg_uuid
    WHERE (EXCLUDED.ts, EXCLUDED.msg_uuid) > (l.ts, l.msg_uuid);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

-- Down Migration
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
