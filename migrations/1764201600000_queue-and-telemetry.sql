-- Up Migration
-- The queue: a dumb FIFO store. mqwriter only INSERTs, mqreader only SELECTs and DELETEs; no UPDATE ever.
CREATE TABLE queue_messages (
  id          bigserial   PRIMARY KEY,              -- FIFO order within a partition
  msg_uuid    uuid        NOT NULL UNIQUE,          -- the dedup key, from queue to telemetry
  partition   smallint    NOT NULL CHECK (partition BETWEEN 0 AND 255),
  key         text        NOT NULL,                 -- partition key (the GPU uuid for telemetry)
  payload     jsonb       NOT NULL,
  enqueued_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_messages_partition_id_idx ON queue_messages (partition, id);

-- Telemetry: one row per delivered message, written idempotently (ON CONFLICT (msg_uuid) DO NOTHING).
CREATE TABLE telemetry (
  msg_uuid    uuid             PRIMARY KEY,
  gpu_uuid    text             NOT NULL,            -- the GPU's own uuid (GPU-…): the API's {id}
  gpu_id      smallint         NOT NULL,            -- 0–7 on each host; an attribute, not an identity
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
-- (gpu_uuid, ts) serves time windows per GPU; msg_uuid last makes the keyset page order (ts, msg_uuid)
-- an index-only walk, so pages stay correct and fast when many rows share a timestamp.
CREATE INDEX telemetry_gpu_uuid_ts_idx ON telemetry (gpu_uuid, ts, msg_uuid);

-- Down Migration
DROP TABLE telemetry;
DROP TABLE queue_messages;
