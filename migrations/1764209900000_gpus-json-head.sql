-- Up Migration
-- The fleet listing (GET /api/v1/gpus, apigw sql.ts fleetLatestJson) is JSON text built in PostgreSQL, and
-- escaping each GPU's four strings (to_json) on every request was about a fifth of its statement. A GPU's
-- attributes change rarely, so its answer's head — {"id":…,"hostname":…,"gpu_id":…,"device":…,"model_name":…
-- without the closing brace — is now kept in gpus_json, read as is by every request.
--
-- Its own table, written by row triggers on gpus only when the head can change (a new GPU, an update that
-- changes an attribute). Not a column of gpus: the ingest trigger moves each GPU's last_seen about once a
-- second, and a wider gpus row cost that trigger ~2.8 ms more per 3,000-row collector statement with
-- remote_write's ~600 GPUs in it (7.4–7.8 → 10.3–10.6 ms, one session), with or without a trigger to keep
-- it; a stored generated column, recomputed on every update, cost ~5.7 ms.
CREATE TABLE gpus_json (
  gpu_uuid text PRIMARY KEY REFERENCES gpus (gpu_uuid) ON DELETE CASCADE,
  head text NOT NULL
);

CREATE FUNCTION gpus_json_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO gpus_json (gpu_uuid, head)
  VALUES (NEW.gpu_uuid, '{"id":' || to_json(NEW.gpu_uuid)::text || ',"hostname":' || to_json(NEW.hostname)::text
                        || ',"gpu_id":' || NEW.gpu_id::text || ',"device":' || to_json(NEW.device)::text
                        || ',"model_name":' || to_json(NEW.model_name)::text)
  ON CONFLICT (gpu_uuid) DO UPDATE SET head = EXCLUDED.head;
  RETURN NULL;
END
$$;
-- Fired as whoever writes gpus (the ingest trigger runs as the owner); no role needs to call it.
REVOKE EXECUTE ON FUNCTION gpus_json_head() FROM PUBLIC;

CREATE TRIGGER gpus_json_head_insert AFTER INSERT ON gpus FOR EACH ROW EXECUTE FUNCTION gpus_json_head();
CREATE TRIGGER gpus_json_head_update AFTER UPDATE ON gpus FOR EACH ROW
  WHEN ((OLD.hostname, OLD.gpu_id, OLD.device, OLD.model_name) IS DISTINCT FROM (NEW.hostname, NEW.gpu_id, NEW.device, NEW.model_name))
  EXECUTE FUNCTION gpus_json_head();

INSERT INTO gpus_json (gpu_uuid, head)
SELECT gpu_uuid, '{"id":' || to_json(gpu_uuid)::text || ',"hostname":' || to_json(hostname)::text || ',"gpu_id":' || gpu_id::text
                 || ',"device":' || to_json(device)::text || ',"model_name":' || to_json(model_name)::text
FROM gpus;

-- Read by whoever reads gpus.
GRANT SELECT ON gpus_json TO tpipe_apigw, tpipe_viewer;

-- Down Migration
DROP TRIGGER gpus_json_head_update ON gpus;
DROP TRIGGER gpus_json_head_insert ON gpus;
DROP FUNCTION gpus_json_head();
DROP TABLE gpus_json;
