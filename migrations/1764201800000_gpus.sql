-- Up Migration
-- One row per GPU with telemetry, so GET /api/v1/gpus reads a few hundred rows instead of scanning
-- (or skip-scanning) a telemetry table of tens of millions. Maintained by a statement-level trigger.
CREATE TABLE gpus (
  gpu_uuid   text        PRIMARY KEY,
  hostname   text        NOT NULL,
  gpu_id     smallint    NOT NULL,
  device     text        NOT NULL,
  model_name text        NOT NULL,
  last_seen  timestamptz NOT NULL
);

-- Statement level with a transition table: one upsert per collector batch, not one per row. With
-- INSERT … ON CONFLICT (msg_uuid) DO NOTHING the transition table holds only the rows really inserted,
-- so a redelivered message does not touch gpus. Rows are upserted in gpu_uuid order, so two collectors
-- committing batches for overlapping GPUs lock gpus rows in the same order and cannot deadlock.
-- The attributes follow the newest row; last_seen never goes back.
CREATE FUNCTION telemetry_upsert_gpus() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER telemetry_gpus_after_insert
  AFTER INSERT ON telemetry
  REFERENCING NEW TABLE AS inserted_rows
  FOR EACH STATEMENT EXECUTE FUNCTION telemetry_upsert_gpus();

-- Telemetry written before this migration.
INSERT INTO gpus (gpu_uuid, hostname, gpu_id, device, model_name, last_seen)
SELECT DISTINCT ON (gpu_uuid) gpu_uuid, hostname, gpu_id, device, model_name, ts
FROM telemetry
ORDER BY gpu_uuid, ts DESC;

-- Down Migration
DROP TRIGGER telemetry_gpus_after_insert ON telemetry;
DROP FUNCTION telemetry_upsert_gpus();
DROP TABLE gpus;
