// Queued messages as the collector will see them: a bundle row (src/protocol/bundle.ts) as its members.
import { BUNDLE_FIELD } from '../../src/protocol/bundle.js'

/**
 * A FROM-able query of every queued message: `id` (the message's own id), `p` (its payload, json),
 * `row_id`, `key` and `partition` of the queue row that carries it.
 */
export const QUEUED_MESSAGES = `SELECT m.value->>'msg_uuid' AS id, m.value->'payload' AS p, q.msg_uuid AS row_id, q.key, q.partition
  FROM queue_messages q CROSS JOIN LATERAL json_array_elements(
    COALESCE(q.payload->'${BUNDLE_FIELD}', json_build_array(json_build_object('msg_uuid', q.msg_uuid, 'payload', q.payload)))) AS m`
