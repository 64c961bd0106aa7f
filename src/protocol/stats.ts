// GET /v1/stats of the read side: mqreader's (the partition owner) and the collector's. `tpipe dev`'s
// supervisor and the benchmarks read them.
import { Type, type Static } from '@sinclair/typebox'

export const OwnerStats = Type.Object({
  reader: Type.String(),
  generation: Type.Integer({ description: 'Assignment generation in force (-1 before the first).' }),
  partitions_owned: Type.Integer({ minimum: 0 }),
  ready: Type.Integer({ minimum: 0, description: 'Messages in memory ready to lease.' }),
  leased: Type.Integer({ minimum: 0, description: 'Messages in unexpired, unacked leases.' }),
  buffer_utilization: Type.Number({ minimum: 0, maximum: 1, description: '(ready + leased) / max messages.' }),
  acked_total: Type.Integer({ minimum: 0 }),
  redelivered_total: Type.Integer({ minimum: 0 }),
  leases_expired_total: Type.Integer({ minimum: 0 }),
  leases_released_total: Type.Integer({ minimum: 0, description: 'Leases handed back unprocessed (POST /v1/release).' }),
  messages_released_total: Type.Integer({ minimum: 0, description: 'Messages in those leases: ready again at once (or left for the next owner of a partition given up).' }),
  release_unknown_total: Type.Integer({ minimum: 0, description: 'Lease ids in releases that were no longer out (expired, acked, released already): ignored.' }),
})
export type OwnerStats = Static<typeof OwnerStats>

export const CollectorStats = Type.Object({
  /** Every reader address in use (a DNS name counts once per address it resolves to). */
  readers: Type.Array(Type.String()),
  running: Type.Boolean(),
  leases_in_flight: Type.Integer({ minimum: 1 }),
  messages_received_total: Type.Number({ minimum: 0 }),
  rows_persisted_total: Type.Number({ minimum: 0 }),
  dead_letters_total: Type.Number({ minimum: 0 }),
  lease_errors_total: Type.Number({ minimum: 0 }),
  messages_released_total: Type.Number({ minimum: 0, description: 'Messages handed back to their reader unprocessed (on stop, or when a reader left the set).' }),
})
export type CollectorStats = Static<typeof CollectorStats>
