-- Up Migration
-- Creating a partition for rows waiting in the default partition (late samples, or a redelivery of them)
-- could deadlock with a collector inserting those same rows again. tpipe_ensure_partition deleted them
-- from the default partition (row locks), then ATTACH PARTITION asked for ACCESS EXCLUSIVE on the default
-- partition; meanwhile a redelivered batch, routed to the default partition (ROW EXCLUSIVE held), was
-- waiting on those deleted rows (ON CONFLICT waits for the deleting transaction): a cycle. PostgreSQL broke
-- it by failing the collector's statement (40P01) — its lease then waited out the visibility timeout.
-- Seen in CI as a 30 s stall (src/collector/release.int.test.ts); reproduced deterministically in
-- src/collector/persist.int.test.ts. The function now takes, before touching a row, the locks ATTACH takes,
-- in PostgreSQL's own order: SHARE UPDATE EXCLUSIVE on the parent alone (ONLY: not its partitions; inserts
-- and reads go on), then ACCESS EXCLUSIVE on the default partition. An insert routed to the default partition
-- waits for the move to commit, then fails with a partition-constraint error the collector runs again at once
-- (rerouted to the new partition): no cycle can form. Parent first, like ANALYZE of the parent and ATTACH do —
-- locking the default first deadlocked with an ANALYZE of telemetry (found in review, reproduced). The price:
-- inserts into and reads of the default partition now also wait while its rows are moved (before, only
-- during ATTACH's scan) — time in proportion to the rows waiting there, usually none or a few late samples.
CREATE OR REPLACE FUNCTION tpipe_ensure_partition(parent text, key text, lo timestamptz, hi timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  name text := parent || '_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD')
               || CASE WHEN lo = date_trunc('day', lo AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' THEN '' ELSE to_char(lo AT TIME ZONE 'UTC', '"_"HH24MI') END;
  opts text := CASE parent WHEN 'telemetry' THEN 'autovacuum_vacuum_insert_scale_factor = 0.02' ELSE 'fillfactor = 70' END;
BEGIN
  IF parent NOT IN ('telemetry', 'telemetry_1m', 'telemetry_1h') OR key <> (CASE parent WHEN 'telemetry' THEN 'ts' ELSE 'bucket' END) THEN
    RAISE EXCEPTION 'tpipe_ensure_partition: % (%) is not a partitioned telemetry table', parent, key;
  END IF;
  IF to_regclass(quote_ident(name)) IS NOT NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE format('LOCK TABLE ONLY %I IN SHARE UPDATE EXCLUSIVE MODE', parent);
  EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', parent || '_default');
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS) WITH (%s)', name, parent, opts);
  EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved',
                 parent || '_default', key, key, name) USING lo, hi;
  EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I >= %L AND %I < %L)', name, name || '_bound', key, lo, key, hi);
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, name, lo, hi);
  EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', name, name || '_bound');
  RETURN name;
END
$$;

-- Down Migration
CREATE OR REPLACE FUNCTION tpipe_ensure_partition(parent text, key text, lo timestamptz, hi timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  name text := parent || '_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD')
               || CASE WHEN lo = date_trunc('day', lo AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' THEN '' ELSE to_char(lo AT TIME ZONE 'UTC', '"_"HH24MI') END;
  opts text := CASE parent WHEN 'telemetry' THEN 'autovacuum_vacuum_insert_scale_factor = 0.02' ELSE 'fillfactor = 70' END;
BEGIN
  IF parent NOT IN ('telemetry', 'telemetry_1m', 'telemetry_1h') OR key <> (CASE parent WHEN 'telemetry' THEN 'ts' ELSE 'bucket' END) THEN
    RAISE EXCEPTION 'tpipe_ensure_partition: % (%) is not a partitioned telemetry table', parent, key;
  END IF;
  IF to_regclass(quote_ident(name)) IS NOT NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS) WITH (%s)', name, parent, opts);
  EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved',
                 parent || '_default', key, key, name) USING lo, hi;
  EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I >= %L AND %I < %L)', name, name || '_bound', key, lo, key, hi);
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, name, lo, hi);
  EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', name, name || '_bound');
  RETURN name;
END
$$;
