-- Up Migration
-- Long windows read the per-minute rollups of one GPU and metric: 30 days are 43,200 rows. The derive job
-- writes a minute for every GPU at once, so one GPU's rows lie one per heap page, and a 30-day query read
-- ~43,000 pages (1.3–1.6 s on the 50M-row bench table; target p99 < 100 ms). The primary key now carries
-- every rollup column (INCLUDE), so a bucketed query is an index-only scan over one contiguous key range,
-- as the raw table's (gpu_uuid, ts, msg_uuid) INCLUDE (metric_name, value) index already is. The key
-- columns and the constraint name stay: the derive job's ON CONFLICT (gpu_uuid, metric_name, bucket) is
-- unchanged. Cost: the key holds a second copy of the rollups (they are small beside the raw rows), and a
-- recomputed minute (late samples) is no longer a HOT update.
ALTER TABLE telemetry_1m DROP CONSTRAINT telemetry_1m_pkey;
ALTER TABLE telemetry_1m ADD CONSTRAINT telemetry_1m_pkey PRIMARY KEY (gpu_uuid, metric_name, bucket)
  INCLUDE (count, sum, min, max, last, last_ts, last_msg);

-- Down Migration
ALTER TABLE telemetry_1m DROP CONSTRAINT telemetry_1m_pkey;
ALTER TABLE telemetry_1m ADD CONSTRAINT telemetry_1m_pkey PRIMARY KEY (gpu_uuid, metric_name, bucket);
