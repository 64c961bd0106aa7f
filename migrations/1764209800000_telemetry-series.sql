-- Up Migration
-- Labels once per series, not in every row (issue 15's throughput). A series' labels (dcgm-exporter's
-- ~10 labels, ~300 bytes of JSON) are the same in every sample it ever sends, yet each telemetry row
-- stored them again as jsonb. Measured in one session (3,000-row collector statements with remote_write's
-- labels, rolled back, three interleaved rounds): 104–133 ms per statement with labels in the rows, 75–86 ms
-- without; the statement's JSON 1.70 MB against 0.98 MB. Now the collector sends each series' labels once
-- (per collector, per hour) into telemetry_series, keyed by a UUID derived from the labels' JSON text, and
-- the rows carry only series_id. Rows written before (and by a collector with its series cache off) keep
-- their labels inline; readers take coalesce(t.labels, series' labels).
--
-- last_seen is bumped at most every 10 minutes by the collector's upsert (each collector re-sends a series
-- it holds at least hourly), and the maintenance pass (src/telemetry/maintain.ts) deletes series last
-- written more than a day before the oldest sample that can still exist (oldest raw partition left, oldest
-- default-partition row, or the retention horizon). A sample time running more than a day ahead of when it
-- was written can outlive its series; its labels then read as null.
--
-- Down puts the labels back into every row that has a series: one UPDATE over the whole table, which on a
-- large table takes long and doubles its heap until vacuum. Rows whose series was already expired stay null.
CREATE TABLE telemetry_series (
  series_id uuid PRIMARY KEY,
  labels    jsonb NOT NULL,
  last_seen timestamptz NOT NULL DEFAULT now()
);

-- Metadata only on a partitioned table (no default, nullable): no rewrite of existing partitions.
ALTER TABLE telemetry ADD COLUMN series_id uuid;

CREATE FUNCTION tpipe_expire_series(horizon timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  n bigint;
BEGIN
  DELETE FROM telemetry_series WHERE last_seen < horizon;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
REVOKE EXECUTE ON FUNCTION tpipe_expire_series(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tpipe_expire_series(timestamptz) TO tpipe_collector;

-- The collector's upsert: INSERT, and ON CONFLICT … DO UPDATE SET last_seen … WHERE last_seen < … (which
-- reads the key and last_seen). Never the labels of other series.
GRANT INSERT ON telemetry_series TO tpipe_collector;
GRANT SELECT (series_id, last_seen), UPDATE (last_seen) ON telemetry_series TO tpipe_collector;
GRANT SELECT ON telemetry_series TO tpipe_apigw, tpipe_viewer;

-- Down Migration
-- Labels go back into the rows that point at a series, then the column and the table go.
UPDATE telemetry AS t SET labels = s.labels FROM telemetry_series AS s WHERE t.series_id = s.series_id AND t.labels IS NULL;
ALTER TABLE telemetry DROP COLUMN series_id;
DROP FUNCTION tpipe_expire_series(timestamptz);
DROP TABLE telemetry_series;
