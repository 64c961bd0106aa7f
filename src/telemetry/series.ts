// A series' labels stored once (telemetry_series, migration 1764209800000) instead of in every row: the
// id a label set is stored under, and the collector's memory of the label sets it has already written.
import { flatString, hashUuid, textBytes } from '../util/ids.js'

/**
 * The series id of a label set: a UUID (version 8, RFC 9562 "custom") of the SHA-256 of its JSON text.
 * The same labels in the same key order (every source writes a series' labels the same way each time)
 * give the same id in every collector and after every restart; another key order gives another id, which
 * costs one more stored copy of the labels and nothing else.
 */
export function seriesId(labelsJson: string): string {
  return hashUuid(`tpipe-series\0${labelsJson}`)
}

interface Entry {
  id: string
  /** When the series is to be written again (ms): refreshMs after it was committed, less up to a quarter. */
  due: number
}

/**
 * Heap bytes of one entry: its key, the id (kept flat), the entry object and the Map's share. Measured on
 * dcgm-exporter's label sets (bench/series-cache-heap.ts): 453 estimated, 450 of heap a series. Before the
 * id was flattened it took 785 (hashUuid's rope), against 423 counted: 64 MiB of "bytes" held ~120 MB.
 */
const entryBytes = (key: string) => textBytes(key) + 36 + 150

/**
 * The label sets this collector has committed to telemetry_series lately, by their JSON text: a row of
 * one of them carries only its series_id. Bounded in bytes (when full, the older half is forgotten: those
 * series are written again, an upsert that changes nothing but last_seen). An entry committed more than
 * `refreshMs` ago counts as unknown (spread over the last quarter of it, so the series a collector learnt
 * in one burst are not all due in the same minute), so every series in use is written again at least that
 * often and its last_seen stays fresh for the maintenance pass.
 */
export class SeriesCache {
  private readonly map = new Map<string, Entry>()
  private bytes = 0

  constructor(
    readonly maxBytes: number,
    readonly refreshMs = 3_600_000,
  ) {}

  get enabled(): boolean {
    return this.maxBytes > 0
  }

  get size(): number {
    return this.map.size
  }

  get heldBytes(): number {
    return this.bytes
  }

  /** The id of a label set and whether it must be written with the rows (not committed lately). */
  lookup(labelsJson: string, now: number): { id: string; known: boolean } {
    const e = this.map.get(labelsJson)
    if (e) return { id: e.id, known: now < e.due }
    return { id: seriesId(labelsJson), known: false }
  }

  /** After the statement that wrote them committed: these series are known from `now`. */
  committed(series: Iterable<[labelsJson: string, id: string]>, now: number): void {
    if (!this.enabled) return
    for (const [key, id] of series) {
      const had = this.map.get(key)
      if (had) {
        // Re-inserted at the end: the map's order stays oldest first.
        this.map.delete(key)
      } else {
        this.bytes += entryBytes(key)
      }
      this.map.set(key, { id: had?.id ?? flatString(id), due: now + this.refreshMs * (0.75 + 0.25 * Math.random()) })
    }
    if (this.bytes > this.maxBytes) this.evict()
  }

  /** Forgets the older half (by bytes) of what is held. */
  private evict(): void {
    const target = this.maxBytes / 2
    for (const key of this.map.keys()) {
      if (this.bytes <= target) break
      this.map.delete(key)
      this.bytes -= entryBytes(key)
    }
  }
}

/**
 * The upsert of series first written (or due for a last_seen bump) by a statement, from its parameter
 * `param`: a JSON array of objects {"series_id","labels"}, no series twice. The collector (rows with their
 * labels) and mqwriter (remote_write series, registered with the queue rows) both run it. A series whose
 * last_seen is fresh (< 10 minutes) is skipped by a plain read first: ON CONFLICT DO UPDATE locks the row
 * it finds even when its WHERE then updates nothing, and writers re-sending the same series (after a
 * restart, on their hourly refresh) would queue behind each other's whole statements. What is left is
 * upserted in key order, so two writers lock shared series in the same order and never deadlock on them.
 */
export const seriesUpsert = (param: number): string => `INSERT INTO telemetry_series AS s (series_id, labels)
             SELECT x.series_id, x.labels FROM json_to_recordset($${param}::json) AS x(series_id uuid, labels jsonb)
             WHERE NOT EXISTS (SELECT 1 FROM telemetry_series AS o WHERE o.series_id = x.series_id AND o.last_seen >= now() - interval '10 minutes')
             ORDER BY x.series_id
             ON CONFLICT (series_id) DO UPDATE SET last_seen = now() WHERE s.last_seen < now() - interval '10 minutes'`
