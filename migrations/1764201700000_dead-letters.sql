-- Up Migration
-- Poison messages: payloads the collector cannot turn into a telemetry row. Written in the same
-- statement as the batch's telemetry rows, then acked, so they never loop and never block good ones.
CREATE TABLE dead_letters (
  msg_uuid       uuid        PRIMARY KEY,            -- redelivery of the same poison message stores nothing new
  partition      smallint    NOT NULL,
  key            text        NOT NULL,
  payload        jsonb       NOT NULL,
  error          text        NOT NULL,
  delivery_count integer     NOT NULL,
  enqueued_at    timestamptz,
  failed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_failed_at_idx ON dead_letters (failed_at);

-- Down Migration
DROP TABLE dead_letters;
