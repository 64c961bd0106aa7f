// GET /v1/targets of a scraper replica: the dcgm-exporter targets it scrapes and their health (as
// Prometheus' own `up`/`scrape_duration_seconds` say it). The scraper serves it; `tpipe dev`'s supervisor
// and `tpipe status` on a cluster (through the API server's pod proxy) read it and sum it up alike.
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

export const TargetHealth = Type.Object({
  url: Type.String(),
  /** host:port, the `instance` label of every sample. */
  instance: Type.String(),
  /** null: not scraped yet. */
  up: Nullable(Type.Boolean()),
  /** RFC 3339 start of the last scrape. */
  last_scrape: Nullable(Type.String()),
  last_duration_seconds: Nullable(Type.Number()),
  /** DCGM samples turned into telemetry by the last scrape. */
  last_samples: Type.Integer({ minimum: 0 }),
  last_error: Nullable(Type.String()),
  scrapes: Type.Integer({ minimum: 0 }),
  errors: Type.Integer({ minimum: 0 }),
})
export type TargetHealth = Static<typeof TargetHealth>

export const TargetsView = Type.Object({
  identity: Type.String(),
  /** Members sharing the targets (peer pod names, or the static shards "0".."n-1"). */
  members: Type.Array(Type.String()),
  /** Targets found before sharding (this replica scrapes its share of them). */
  discovered: Type.Integer({ minimum: 0 }),
  targets: Type.Array(TargetHealth),
})
export type TargetsView = Static<typeof TargetsView>

/** True when a body read back is a TargetsView (what `tpipe status` trusts of a pod's answer). */
export const isTargetsView = (v: unknown): v is TargetsView => Value.Check(TargetsView, v)

export interface TargetsSummary {
  targets: number
  up: number
  down: number
  /** Not scraped yet (up null). */
  pending: number
  /** DCGM samples of the last scrape of every target: what one round of scrapes yields. */
  samples: number
  /** The failing targets (up false), in the scraper's order (by URL). */
  failing: TargetHealth[]
}

export function summarizeTargets(targets: readonly TargetHealth[]): TargetsSummary {
  const failing = targets.filter((t) => t.up === false)
  const up = targets.filter((t) => t.up === true).length
  return {
    targets: targets.length,
    up,
    down: failing.length,
    pending: targets.length - up - failing.length,
    samples: targets.reduce((a, t) => a + t.last_samples, 0),
    failing,
  }
}
