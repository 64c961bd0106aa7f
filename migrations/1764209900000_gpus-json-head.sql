-- Up Migration
-- The fleet listing (GET /api/v1/gpus, apigw sql.ts fleetLatestJson) is JSON text built in PostgreSQL, and
-- escaping each GPU's four strings (to_json) on every request was a sixth of its statement. A GPU's
-- attributes change rarely, so its answer's head — {"id":…,"hostname":…,"gpu_id":…,"device":…,"model_name":…
-- without the closing brace — is now a stored generated column: computed when the row is written (the
-- ingest trigger writes a GPU at most once a second), read as is by every request, and never stale
-- whoever writes the row.
--
-- Generated columns take immutable expressions only, and to_json is marked stable (for its anyelement
-- argument; on text it is a pure function). json_object(text[], text[]) is immutable and escapes its
-- values with the same routine (escape_json): the value's JSON text is cut out of {"k" : <value>}. The
-- function is plain SQL of immutable parts, so the planner inlines it. json.int.test.ts compares the
-- answer byte-for-byte with JSON.stringify for control characters, quotes, backslashes, U+2028/2029,
-- astral and combining characters.
CREATE FUNCTION tpipe_json_string(s text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT left(substr(json_object('{k}', ARRAY[s])::text, 8), -1) $$;
-- Executable by PUBLIC (the default), deliberately: it is pure, and PostgreSQL checks EXECUTE on a
-- generation expression's functions as whoever writes the row (today only the ingest trigger, as the owner;
-- a DBA role or a restore as another role must not fail on it).

-- The rewrite of gpus takes an ACCESS EXCLUSIVE lock, and ingest's trigger writes gpus: rather than queue
-- behind a long reader (and stall ingest behind this), fail after 5 s; the migration runs again.
SET LOCAL lock_timeout = '5s';
ALTER TABLE gpus ADD COLUMN json_head text GENERATED ALWAYS AS (
  '{"id":' || tpipe_json_string(gpu_uuid) || ',"hostname":' || tpipe_json_string(hostname) || ',"gpu_id":' || gpu_id::text
  || ',"device":' || tpipe_json_string(device) || ',"model_name":' || tpipe_json_string(model_name)
) STORED;

-- Down Migration
ALTER TABLE gpus DROP COLUMN json_head;
DROP FUNCTION tpipe_json_string(text);
