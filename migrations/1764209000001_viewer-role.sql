-- Up Migration
-- A read-only role for dashboards (the Grafana `tpipe up --grafana` installs, any BI tool): what apigw may
-- read, plus the queue's depth and age — never its payloads or keys (column grants on id and enqueued_at
-- only). Same creation rules as the service roles of 1764209000000.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tpipe_viewer') THEN
    BEGIN
      CREATE ROLE tpipe_viewer NOLOGIN;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN
        NULL;
      WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'creating the role tpipe_viewer needs CREATEROLE, which % lacks', current_user
          USING HINT = 'ALTER ROLE ' || quote_ident(current_user) || ' CREATEROLE (as a superuser), or have an administrator run: CREATE ROLE tpipe_viewer NOLOGIN';
    END;
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO tpipe_viewer', current_schema());
END
$$;

GRANT SELECT ON telemetry, gpus, telemetry_latest, telemetry_1m TO tpipe_viewer;
GRANT SELECT (id, enqueued_at) ON queue_messages TO tpipe_viewer;

-- Down Migration
REVOKE ALL ON telemetry, gpus, telemetry_latest, telemetry_1m FROM tpipe_viewer;
REVOKE SELECT (id, enqueued_at) ON queue_messages FROM tpipe_viewer;
DO $$
BEGIN
  EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM tpipe_viewer', current_schema());
END
$$;
