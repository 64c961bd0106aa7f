// Telemetry maintenance: creates partitions ahead of time, moves rows out of the default partitions
// once their partition exists, and drops partitions past retention (raw, minute and hour rollups). One pass at a
// time across every process: a session advisory lock on a dedicated connection; a process that does not
// get it skips the pass (another replica is doing the same work). The DDL runs in SQL functions of
// migration 1764202000000 (SECURITY DEFINER), so the caller needs only EXECUTE on them.
import type pg from 'pg'

/** pg_try_advisory_lock key: "tpipe maintain". */
export const MAINTENANCE_LOCK_KEY = 7_466_272_736_913
const WEEK_MS = 7 * 86_400_000
/** Hour rollups: 28-day partitions (migration 1764209200000), aligned like the minute table's weeks. */
export const HOUR_ROLLUP_PARTITION_MS = 4 * WEEK_MS
/** Series are kept this long past the oldest sample that can still exist (> the collector's hourly refresh). */
export const SERIES_SLACK_MS = 86_400_000
/** Partitions are created this far ahead of now (at least two partitions). */
const AHEAD_MS = 2 * 86_400_000

export interface MaintainOptions {
  /** Raw partition size (ms), aligned to the Unix epoch. */
  partitionMs: number
  retentionMs: number
  rollupRetentionMs: number
  /** Hourly rollups (telemetry_1h): normally longer than the minutes'. */
  rollup1hRetentionMs: number
  /** Report what would be created and dropped; change nothing. */
  dryRun?: boolean
  now?: number
  /** Bound on waiting for a table lock (ATTACH, DROP); a pass that times out is retried next time. */
  lockTimeoutMs?: number
}

export interface PartitionRange {
  table: 'telemetry' | 'telemetry_1m' | 'telemetry_1h'
  name?: string
  from: string
  to: string
}

export interface MaintainResult {
  /** False when another process held the maintenance lock (nothing was done). */
  ran: boolean
  dryRun: boolean
  created: PartitionRange[]
  dropped: (PartitionRange & { ms?: number })[]
  /** Rows older than retention deleted from the default partitions. */
  expiredDefaultRows: Record<string, number>
  /** Rows left in each default partition afterwards (far-future samples wait there for their partition). */
  defaultRows: Record<string, number>
  /** Series (telemetry_series) last written before seriesHorizon: deleted (or, dry run, to delete). */
  expiredSeries: number
  /** A day before the oldest sample that can still exist (oldest raw partition or default row, or retention). */
  seriesHorizon?: string
  partitions: Record<string, number>
}

interface Existing {
  name: string
  from: number
  to: number
}

interface TableSpec {
  table: 'telemetry' | 'telemetry_1m' | 'telemetry_1h'
  key: 'ts' | 'bucket'
  sizeMs: number
  retentionMs: number
}

const iso = (ms: number) => new Date(ms).toISOString()

async function partitionsOf(c: pg.ClientBase, table: string): Promise<Existing[]> {
  const r = await c.query<{ name: string; from_ms: string; to_ms: string }>(
    `SELECT c.relname AS name,
            (extract(epoch FROM (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz) * 1000)::bigint AS from_ms,
            (extract(epoch FROM (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz) * 1000)::bigint AS to_ms
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = $1::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
     ORDER BY 2`,
    [table],
  )
  return r.rows.map((x) => ({ name: x.name, from: Number(x.from_ms), to: Number(x.to_ms) }))
}

/** [a, b) minus every existing range: the pieces a new partition may cover without overlapping. */
export function freePieces(a: number, b: number, existing: readonly { from: number; to: number }[]): [number, number][] {
  let pieces: [number, number][] = [[a, b]]
  for (const e of existing) {
    pieces = pieces.flatMap(([x, y]): [number, number][] => {
      if (e.to <= x || e.from >= y) return [[x, y]]
      const out: [number, number][] = []
      if (e.from > x) out.push([x, e.from])
      if (e.to < y) out.push([e.to, y])
      return out
    })
  }
  return pieces
}

/** Slots (epoch-aligned ranges of sizeMs) wanted for one table: now, ahead, and those of default rows within retention. */
function wantedSlots(spec: TableSpec, now: number, defaultSlots: readonly number[]): number[] {
  const horizon = now - spec.retentionMs
  const first = Math.floor(now / spec.sizeMs)
  const ahead = Math.max(2, Math.ceil(AHEAD_MS / spec.sizeMs))
  const slots = new Set<number>()
  for (let k = first; k <= first + ahead; k++) slots.add(k)
  // Late rows waiting in the default partition get their partition (which takes them in) when it is still
  // within retention; far-future rows wait until their slot comes within `ahead`.
  for (const k of defaultSlots) if ((k + 1) * spec.sizeMs > horizon && k <= first + ahead) slots.add(k)
  return [...slots].sort((x, y) => x - y)
}

async function maintainTable(c: pg.ClientBase, spec: TableSpec, opts: MaintainOptions, now: number, out: MaintainResult): Promise<void> {
  const horizon = now - spec.retentionMs
  const existing = await partitionsOf(c, spec.table)
  const def = await c.query<{ k: string; n: string }>(
    `SELECT floor(extract(epoch FROM ${spec.key}) * 1000 / $1)::bigint AS k, count(*) AS n FROM ${spec.table}_default GROUP BY 1`,
    [spec.sizeMs],
  )
  const defaultSlots = def.rows.map((r) => Number(r.k))
  let defaultRows = def.rows.reduce((s, r) => s + Number(r.n), 0)

  // Create first: a pass that is interrupted has still made room for the rows arriving now.
  for (const k of wantedSlots(spec, now, defaultSlots)) {
    for (const [from, to] of freePieces(k * spec.sizeMs, (k + 1) * spec.sizeMs, existing)) {
      if (to <= horizon) continue
      const range: PartitionRange = { table: spec.table, from: iso(from), to: iso(to) }
      if (!opts.dryRun) {
        const r = await c.query<{ name: string | null }>('SELECT tpipe_ensure_partition($1, $2, $3, $4) AS name', [spec.table, spec.key, range.from, range.to])
        if (r.rows[0]?.name) range.name = r.rows[0].name
      }
      existing.push({ name: range.name ?? '', from, to })
      out.created.push(range)
    }
  }

  for (const p of existing) {
    if (!p.name || p.to > horizon) continue
    const range: PartitionRange & { ms?: number } = { table: spec.table, name: p.name, from: iso(p.from), to: iso(p.to) }
    if (!opts.dryRun) {
      const t0 = performance.now()
      await c.query('SELECT tpipe_drop_partition($1, $2)', [spec.table, p.name])
      range.ms = Math.round((performance.now() - t0) * 10) / 10
    }
    out.dropped.push(range)
  }

  const expired = def.rows.filter((r) => (Number(r.k) + 1) * spec.sizeMs <= horizon).reduce((s, r) => s + Number(r.n), 0)
  if (expired > 0 && !opts.dryRun) {
    const r = await c.query<{ n: string }>('SELECT tpipe_expire_default($1, $2, $3) AS n', [spec.table, spec.key, iso(horizon)])
    out.expiredDefaultRows[spec.table] = Number(r.rows[0]?.n ?? 0)
  } else out.expiredDefaultRows[spec.table] = expired
  if (!opts.dryRun) {
    const r = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${spec.table}_default`)
    defaultRows = Number(r.rows[0]?.n ?? 0)
  }
  out.defaultRows[spec.table] = defaultRows
  out.partitions[spec.table] = existing.filter((p) => p.to > horizon).length
}

/**
 * One maintenance pass on a dedicated client (the advisory lock is per session). Returns ran=false
 * without doing anything when another process holds the lock. A dry run takes no lock and changes nothing.
 */
export async function maintain(c: pg.ClientBase, opts: MaintainOptions): Promise<MaintainResult> {
  const now = opts.now ?? Date.now()
  const out: MaintainResult = { ran: false, dryRun: opts.dryRun === true, created: [], dropped: [], expiredDefaultRows: {}, defaultRows: {}, expiredSeries: 0, partitions: {} }
  if (!opts.dryRun) {
    const got = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [MAINTENANCE_LOCK_KEY])
    if (!got.rows[0]?.ok) return out
  }
  try {
    await c.query(`SET lock_timeout = ${Math.max(1, Math.floor(opts.lockTimeoutMs ?? 5000))}`)
    await maintainTable(c, { table: 'telemetry', key: 'ts', sizeMs: opts.partitionMs, retentionMs: opts.retentionMs }, opts, now, out)
    await maintainTable(c, { table: 'telemetry_1m', key: 'bucket', sizeMs: WEEK_MS, retentionMs: opts.rollupRetentionMs }, opts, now, out)
    await maintainTable(c, { table: 'telemetry_1h', key: 'bucket', sizeMs: HOUR_ROLLUP_PARTITION_MS, retentionMs: opts.rollup1hRetentionMs }, opts, now, out)
    // Series still referenced are kept: rows live until their whole partition is past retention (a 7-day
    // partition keeps rows up to 7 days longer), and far-future or late rows may sit in the default
    // partition. So the horizon is the oldest sample that can still exist — the start of the oldest raw
    // partition left, the oldest default row, or the retention horizon — less a day: a collector writes a
    // series in use again at least hourly (last_seen lags its rows by at most ~70 min). Only rows whose
    // sample time runs more than a day ahead of when they were written can outlive their series.
    // (What this pass drops or expires does not count, also in a dry run, where it is still there.)
    const rawHorizon = now - opts.retentionMs
    const left = (await partitionsOf(c, 'telemetry')).filter((p) => p.to > rawHorizon)
    const oldestDefault = await c.query<{ ms: string | null }>('SELECT (extract(epoch FROM min(ts)) * 1000)::bigint AS ms FROM telemetry_default WHERE ts >= $1', [iso(rawHorizon)])
    const oldest = Math.min(rawHorizon, ...left.map((p) => p.from), ...(oldestDefault.rows[0]?.ms == null ? [] : [Number(oldestDefault.rows[0].ms)]))
    const seriesHorizon = iso(oldest - SERIES_SLACK_MS)
    out.seriesHorizon = seriesHorizon
    if (opts.dryRun) {
      const r = await c.query<{ n: string }>('SELECT count(*) AS n FROM telemetry_series WHERE last_seen < $1', [seriesHorizon])
      out.expiredSeries = Number(r.rows[0]?.n ?? 0)
    } else {
      const r = await c.query<{ n: string }>('SELECT tpipe_expire_series($1) AS n', [seriesHorizon])
      out.expiredSeries = Number(r.rows[0]?.n ?? 0)
    }
    out.ran = true
    return out
  } finally {
    await c.query('RESET lock_timeout').catch(() => {})
    if (!opts.dryRun) await c.query('SELECT pg_advisory_unlock($1)', [MAINTENANCE_LOCK_KEY]).catch(() => {})
  }
}
