-- Up Migration
-- The gpus trigger upserted every GPU of every ingest statement: each collector statement took a row lock
-- on all its GPUs' gpus rows (ON CONFLICT DO UPDATE locks the row even when its WHERE then skips the
-- update), so concurrent collectors' statements waited on each other's commits, and every statement wrote
-- a new version of each row only to move last_seen on by milliseconds. Now a GPU whose stored row has the
-- same attributes and a last_seen at most 1 second older than the statement's newest sample is left alone
-- (filtered with a plain read before the upsert: no lock): last_seen is exact to within 1 second, and
-- changed attributes (hostname, index, device, model) are still written at once.
CREATE OR REPLACE FUNCTION telemetry_upsert_gpus() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO gpus AS g (gpu_uuid, hostname, gpu_id, device, model_name, last_seen)
  SELECT n.gpu_uuid, n.hostname, n.gpu_id, n.device, n.model_name, n.ts
  FROM (
    SELECT DISTINCT ON (gpu_uuid) gpu_uuid, hostname, gpu_id, device, model_name, ts
    FROM inserted_rows
    ORDER BY gpu_uuid, ts DESC
  ) AS n
  WHERE NOT EXISTS (
    SELECT 1 FROM gpus AS o
    WHERE o.gpu_uuid = n.gpu_uuid
      AND o.last_seen >= n.ts - interval '1 second'
      AND (o.hostname, o.gpu_id, o.device, o.model_name) IS NOT DISTINCT FROM (n.hostname, n.gpu_id, n.device, n.model_name)
  )
  ORDER BY 1
  ON CONFLICT (gpu_uuid) DO UPDATE
    SET hostname = EXCLUDED.hostname,
        gpu_id = EXCLUDED.gpu_id,
        device = EXCLUDED.device,
        model_name = EXCLUDED.model_name,
        last_seen = EXCLUDED.last_seen
    WHERE EXCLUDED.last_seen > g.last_seen;
  RETURN NULL;
END
$$;

-- Down Migration
CREATE OR REPLACE FUNCTION telemetry_upsert_gpus() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO gpus AS g (gpu_uuid, hostname, gpu_id, device, model_name, last_seen)
  SELECT DISTINCT ON (gpu_uuid) gpu_uuid, hostname, gpu_id, device, model_name, ts
  FROM inserted_rows
  ORDER BY gpu_uuid, ts DESC
  ON CONFLICT (gpu_uuid) DO UPDATE
    SET hostname = EXCLUDED.hostname,
        gpu_id = EXCLUDED.gpu_id,
        device = EXCLUDED.device,
        model_name = EXCLUDED.model_name,
        last_seen = EXCLUDED.last_seen
    WHERE EXCLUDED.last_seen > g.last_seen;
  RETURN NULL;
END
$$;
