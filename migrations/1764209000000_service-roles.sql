-- Up Migration
-- Least privilege (issue 17): one group role per service that touches the database, holding exactly the
-- rights that service's SQL needs (src/<service>/sql.ts, src/telemetry/). The roles are NOLOGIN: services
-- connect as LOGIN users that are members (`tpipe migrate up --roles`, `tpipe dev`, the charts' migration
-- Job create them, src/db/roles.ts). Migrations keep running as the owner of the schema.
--
--   tpipe_mqwriter   INSERT on the queue (and its id sequence)
--                    (SELECT on msg_uuid alone: INSERT … ON CONFLICT (msg_uuid) needs it; never the payloads)
--   tpipe_mqreader   SELECT and DELETE on the queue (lease = SELECT, ack = DELETE; advisory locks are open to all)
--   tpipe_collector  INSERT on telemetry and dead_letters; EXECUTE on the partition and derive functions;
--                    SELECT on the two DEFAULT partitions (maintenance counts the rows waiting there);
--                    SELECT on the dedup key columns alone (ON CONFLICT (ts, msg_uuid) / (msg_uuid) needs it)
--   tpipe_apigw      SELECT on telemetry, gpus, telemetry_latest, telemetry_1m
--
-- A later migration that adds a table or a function must grant it here-like explicitly (nothing is granted
-- by default); src/db/roles.int.test.ts fails on a table or function nobody decided about.
--
-- Roles belong to the cluster, not the database: several databases of one cluster share them (each
-- database grants its own objects). Two databases migrating at once may race to create a role: the loser
-- of the race finds it created.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['tpipe_mqwriter', 'tpipe_mqreader', 'tpipe_collector', 'tpipe_apigw'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', r);
      EXCEPTION
        WHEN duplicate_object OR unique_violation THEN
          NULL;
        WHEN insufficient_privilege THEN
          RAISE EXCEPTION 'creating the service role % needs CREATEROLE, which % lacks', r, current_user
            USING HINT = 'ALTER ROLE ' || quote_ident(current_user) || ' CREATEROLE (as a superuser), or have an administrator run: '
                         || 'CREATE ROLE tpipe_mqwriter NOLOGIN; CREATE ROLE tpipe_mqreader NOLOGIN; CREATE ROLE tpipe_collector NOLOGIN; CREATE ROLE tpipe_apigw NOLOGIN';
      END;
    END IF;
  END LOOP;
  -- The schema the tables live in (public, or the one migrations were told to use).
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO tpipe_mqwriter, tpipe_mqreader, tpipe_collector, tpipe_apigw', current_schema());
END
$$;

GRANT INSERT ON queue_messages TO tpipe_mqwriter;
GRANT SELECT (msg_uuid) ON queue_messages TO tpipe_mqwriter;
GRANT USAGE ON SEQUENCE queue_messages_id_seq TO tpipe_mqwriter;

GRANT SELECT, DELETE ON queue_messages TO tpipe_mqreader;

GRANT INSERT ON telemetry, dead_letters TO tpipe_collector;
-- ON CONFLICT reads the conflict target's columns; RETURNING tableoid (the persist statement counts rows
-- that went to the default partition) reads that system column.
GRANT SELECT (ts, msg_uuid, tableoid) ON telemetry TO tpipe_collector;
GRANT SELECT (msg_uuid) ON dead_letters TO tpipe_collector;
GRANT SELECT ON telemetry_default, telemetry_1m_default TO tpipe_collector;

GRANT SELECT ON telemetry, gpus, telemetry_latest, telemetry_1m TO tpipe_apigw;

-- The ingest triggers and the derive job write tables the collector gets no rights on (gpus, the dirty
-- marks, telemetry_latest, telemetry_1m): they run as the owner, with a fixed search_path, so inserting
-- telemetry or calling the derive functions is all a collector can do to them.
ALTER FUNCTION telemetry_upsert_gpus() SECURITY DEFINER SET search_path FROM CURRENT;
ALTER FUNCTION telemetry_mark_dirty() SECURITY DEFINER SET search_path FROM CURRENT;
ALTER FUNCTION tpipe_refresh_latest() SECURITY DEFINER SET search_path FROM CURRENT;
ALTER FUNCTION tpipe_refresh_rollups(interval, interval) SECURITY DEFINER SET search_path FROM CURRENT;

-- Functions are executable by PUBLIC unless revoked: the SECURITY DEFINER ones (partition DDL, DROP of a
-- partition, deletes) were callable by any role that could connect.
REVOKE EXECUTE ON FUNCTION tpipe_ensure_partition(text, text, timestamptz, timestamptz), tpipe_drop_partition(text, text),
  tpipe_expire_default(text, text, timestamptz), tpipe_refresh_latest(), tpipe_refresh_rollups(interval, interval),
  telemetry_upsert_gpus(), telemetry_mark_dirty() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tpipe_ensure_partition(text, text, timestamptz, timestamptz), tpipe_drop_partition(text, text),
  tpipe_expire_default(text, text, timestamptz), tpipe_refresh_latest(), tpipe_refresh_rollups(interval, interval) TO tpipe_collector;

-- Down Migration
-- The roles stay (other databases of the cluster may use them); this database's grants go.
REVOKE ALL ON queue_messages, telemetry, dead_letters, gpus, telemetry_latest, telemetry_1m, telemetry_default, telemetry_1m_default
  FROM tpipe_mqwriter, tpipe_mqreader, tpipe_collector, tpipe_apigw;
REVOKE SELECT (ts, msg_uuid, tableoid) ON telemetry FROM tpipe_collector;
REVOKE SELECT (msg_uuid) ON dead_letters FROM tpipe_collector;
REVOKE SELECT (msg_uuid) ON queue_messages FROM tpipe_mqwriter;
REVOKE ALL ON SEQUENCE queue_messages_id_seq FROM tpipe_mqwriter;
REVOKE ALL ON FUNCTION tpipe_ensure_partition(text, text, timestamptz, timestamptz), tpipe_drop_partition(text, text),
  tpipe_expire_default(text, text, timestamptz), tpipe_refresh_latest(), tpipe_refresh_rollups(interval, interval) FROM tpipe_collector;
GRANT EXECUTE ON FUNCTION tpipe_ensure_partition(text, text, timestamptz, timestamptz), tpipe_drop_partition(text, text),
  tpipe_expire_default(text, text, timestamptz), tpipe_refresh_latest(), tpipe_refresh_rollups(interval, interval),
  telemetry_upsert_gpus(), telemetry_mark_dirty() TO PUBLIC;
ALTER FUNCTION telemetry_upsert_gpus() SECURITY INVOKER RESET search_path;
ALTER FUNCTION telemetry_mark_dirty() SECURITY INVOKER RESET search_path;
ALTER FUNCTION tpipe_refresh_latest() SECURITY INVOKER RESET search_path;
ALTER FUNCTION tpipe_refresh_rollups(interval, interval) SECURITY INVOKER RESET search_path;
DO $$
BEGIN
  EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM tpipe_mqwriter, tpipe_mqreader, tpipe_collector, tpipe_apigw', current_schema());
END
$$;
