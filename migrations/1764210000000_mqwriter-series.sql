-- Up Migration
-- remote_write series registered by mqwriter (src/mqwriter/remote-write.ts): a series' labels are written
-- to telemetry_series in the same statement as the queue rows that first carry the series, and the queue
-- payloads then carry only the series id (tpipe_series) instead of ~200 bytes of labels per sample. The
-- same upsert as the collector's (src/telemetry/series.ts seriesUpsert): INSERT, and ON CONFLICT … DO UPDATE SET
-- last_seen … WHERE last_seen < … (which reads the key and last_seen). Never the labels of other series.
GRANT INSERT ON telemetry_series TO tpipe_mqwriter;
GRANT SELECT (series_id, last_seen), UPDATE (last_seen) ON telemetry_series TO tpipe_mqwriter;

-- Down Migration
REVOKE INSERT ON telemetry_series FROM tpipe_mqwriter;
REVOKE SELECT (series_id, last_seen), UPDATE (last_seen) ON telemetry_series FROM tpipe_mqwriter;
