// DCGM samples (scraped from dcgm-exporter, or received by remote_write) → telemetry messages with the
// same fields as a CSV row, and the content-derived message id that makes both sources idempotent. Pure.
import { partitionOf } from '../partitions/hash.js'
import { SERIES_FIELD } from '../protocol/bundle.js'
import { seriesId } from '../telemetry/series.js'
import { unstorableEscape } from '../protocol/unstorable.js'
import { flatString, hashUuid, textBytes } from '../util/ids.js'
import { clipCodePoints } from '../util/text.js'
import type { TelemetryPayload } from '../telemetry/payload.js'

/** A publish as mqwriter stores it: partition key (GPU uuid), payload and the id that becomes msg_uuid. */
export interface TelemetryMessage {
  key: string
  id: string
  payload: TelemetryPayload
}

/** Why a DCGM sample could not become a telemetry message. */
export type Unmapped = 'no_uuid' | 'no_gpu_index'

/**
 * The message id of one sample: a UUID (version 8, RFC 9562: "custom") made of the SHA-256 of the series
 * identity (metric name and every label, sorted) and the sample time in milliseconds. The same sample
 * sent twice — a retried publish, a second scraper replica, Prometheus re-sending a remote_write
 * shard — gets the same id, and mqwriter's ON CONFLICT (msg_uuid) stores it once. A different value at
 * the same series and time keeps the first one stored (one series has one value per instant).
 */
export function sampleId(name: string, labels: Readonly<Record<string, string>>, timestampMs: number): string {
  return idFor(identityText(name, labels), timestampMs)
}

/** The series part of what sampleId hashes (computed once per series by the templates below). */
function identityText(name: string, labels: Readonly<Record<string, string>>): string {
  let text = name
  for (const k of Object.keys(labels).sort()) {
    if (k === '__name__') continue
    const v = labels[k]!
    text += `\0${k}\xff${v.length}:${v}`
  }
  return text
}

function idFor(identity: string, timestampMs: number): string {
  return hashUuid(`${identity}\0@${timestampMs}`)
}

/** toISOString of the last time asked: the samples of one scrape or request share their time. */
let lastMs = NaN
let lastIso = ''
function isoOf(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString()
    lastMs = ms
  }
  return lastIso
}

function str(labels: Readonly<Record<string, string>>, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = labels[n]
    if (v !== undefined) return v
  }
  return undefined
}

const MAX_TEXT = 256

/** Bounded like the CSV columns; NUL removed (PostgreSQL text and jsonb cannot hold it: one such label must not fail a batch). */
function clip(s: string): string {
  const t = s.includes('\0') ? s.replaceAll('\0', '') : s
  return clipCodePoints(t, MAX_TEXT)
}

/**
 * Maps one DCGM sample to a telemetry message. The labels dcgm-exporter writes (gpu, UUID, device,
 * modelName, Hostname, container, pod, namespace) become the CSV row's columns; every label is also
 * kept in `labels`, as the CSV's labels_raw is. `fallbackHost` is used when the exporter has no
 * Hostname label (the target's host). Returns why not when the sample names no GPU.
 */
export function toTelemetry(
  name: string,
  labels: Readonly<Record<string, string>>,
  value: number,
  timestampMs: number,
  fallbackHost: string,
): TelemetryMessage | Unmapped {
  const f = seriesFields(name, labels, fallbackHost)
  if (typeof f === 'string') return f
  const payload: TelemetryPayload = { ts: isoOf(timestampMs), ...f.fields, value, labels: f.labels }
  return { key: f.fields.gpu_uuid, id: sampleId(name, labels, timestampMs), payload }
}

type SeriesColumns = Omit<TelemetryPayload, 'ts' | 'value' | 'labels'>

/** What a series' samples share: the CSV row's columns and the labels, or why the series names no GPU. */
function seriesFields(name: string, labels: Readonly<Record<string, string>>, fallbackHost: string): { fields: SeriesColumns; labels: Record<string, string> } | Unmapped {
  const uuid = str(labels, 'UUID', 'uuid', 'gpu_uuid')
  if (!uuid) return 'no_uuid'
  const gpuRaw = str(labels, 'gpu', 'gpu_id', 'GPU_I_ID')
  const gpu = gpuRaw !== undefined && /^\d{1,5}$/.test(gpuRaw) ? Number(gpuRaw) : NaN
  if (!(gpu >= 0 && gpu <= 32767)) return 'no_gpu_index'
  const all: Record<string, string> = { __name__: name }
  // Names are clipped like values: a NUL in either can be stored neither in telemetry's labels (jsonb) nor as a dead letter.
  for (const k in labels) if (k !== '__name__') all[clip(k)] = clip(labels[k]!)
  const empty = (v: string | undefined) => (v === undefined || v === '' ? null : clip(v))
  // Key order is the payload's (toTelemetry and SeriesTemplate must serialise the same JSON).
  const fields: SeriesColumns = {
    metric_name: clip(name),
    gpu_id: gpu,
    device: clip(str(labels, 'device') ?? ''),
    gpu_uuid: clip(uuid),
    model_name: clip(str(labels, 'modelName', 'model_name') ?? ''),
    hostname: clip(str(labels, 'Hostname', 'hostname') ?? fallbackHost),
    container: empty(str(labels, 'container', 'exported_container')),
    pod: empty(str(labels, 'pod', 'exported_pod')),
    namespace: empty(str(labels, 'namespace', 'exported_namespace')),
  }
  return { fields, labels: all }
}

const SERIES_JSON_HEAD = '{"series_id":"'
const LABELS_JSON_HEAD = '"labels":'
/** Where `"labels":{…}}` starts in a seriesJson: after its head, a 36-character uuid and `",`. */
const SERIES_JSON_LABELS_AT = SERIES_JSON_HEAD.length + 36 + 2

/**
 * A series' share of every sample's message, worked out once: its partition key, the identity its ids
 * hash, and its payload JSON around the two parts that change per sample (time and value). A sample's
 * message is then one hash and a string join — the same id and the same JSON text as
 * `JSON.stringify(toTelemetry(…).payload)` (tested), at a fraction of the cost (remote_write receives
 * the same series again and again).
 */
export class SeriesTemplate {
  readonly key: string
  /** partitionOf(key): the queue partition of every sample of the series. */
  readonly partition: number
  /**
   * The series as telemetry_series stores it, {"series_id","labels"} (JSON), when its samples can carry the
   * id in place of the labels (payloadJsonRef); undefined when its labels cannot be stored as jsonb, whose
   * samples then keep their labels inline (and their rows fail alone in the collector, as before).
   */
  readonly seriesJson: string | undefined
  private readonly identity: string
  private readonly middle: string
  /**
   * `,"labels":{…}}` for a series whose labels cannot be registered; undefined when seriesJson holds the
   * labels' JSON already (payloadJson takes it from there: only a template that is not cached uses it).
   */
  private readonly inlineTail: string | undefined
  private readonly refTail: string
  /** Approximate bytes held (a cache of templates is bounded by it). */
  readonly bytes: number
  /** Until when (ms) seriesJson counts as registered: kept by the template's user (mqwriter's SeriesMapper). */
  registeredUntil = 0
  /** Kept by its user between requests (mqwriter's SeriesMapper): only then is its registration remembered. */
  cached = false

  private constructor(key: string, identity: string, middle: string, labelsJson: string) {
    this.key = key
    identity = flatString(identity)
    middle = flatString(middle)
    this.partition = partitionOf(key)
    this.identity = identity
    this.middle = middle
    // The same id the collector gives these labels (seriesId of the row's labels JSON, the same text).
    const storable = unstorableEscape(labelsJson) === undefined
    const id = storable ? seriesId(labelsJson) : undefined
    // The labels' JSON is held once, in seriesJson (a cache of templates is bounded in bytes: holding it
    // twice took a 500-node fleet's 40,000 series past the default 64 MiB).
    this.seriesJson = id === undefined ? undefined : flatString(`${SERIES_JSON_HEAD}${id}",${LABELS_JSON_HEAD}${labelsJson}}`)
    this.inlineTail = id === undefined ? flatString(`,${LABELS_JSON_HEAD}${labelsJson}}`) : undefined
    this.refTail = id === undefined ? this.inlineTail! : flatString(`,"labels":null,"${SERIES_FIELD}":"${id}"}`)
    // Each string once (refTail is inlineTail's own string when they are the same), plus what V8 adds: the
    // object, string headers. With the cache's key and Map entry it matched the heap a series takes on
    // dcgm-exporter's labels: 1,508 bytes estimated, 1,516 of heap (bench/series-cache-heap.ts).
    this.bytes = textBytes(key) + textBytes(identity) + textBytes(middle) + textBytes(this.seriesJson ?? this.inlineTail!) + (id === undefined ? 0 : this.refTail.length) + 240
  }

  static of(name: string, labels: Readonly<Record<string, string>>, fallbackHost: string): SeriesTemplate | Unmapped {
    const f = seriesFields(name, labels, fallbackHost)
    if (typeof f === 'string') return f
    const cols = JSON.stringify(f.fields)
    return new SeriesTemplate(f.fields.gpu_uuid, identityText(name, labels), `",${cols.slice(1, -1)},"value":`, JSON.stringify(f.labels))
  }

  id(timestampMs: number): string {
    return idFor(this.identity, timestampMs)
  }

  /** The payload JSON of one sample (value finite), with its labels. */
  payloadJson(value: number, timestampMs: number): string {
    const tail = this.inlineTail ?? `,${this.seriesJson!.slice(SERIES_JSON_LABELS_AT)}`
    return `{"ts":"${isoOf(timestampMs)}${this.middle}${JSON.stringify(value)}${tail}`
  }

  /**
   * The payload JSON of one sample with the series id (SERIES_FIELD) in place of its labels, which must be
   * registered (seriesJson) with or before it; with its labels when the series has no seriesJson.
   */
  payloadJsonRef(value: number, timestampMs: number): string {
    return `{"ts":"${isoOf(timestampMs)}${this.middle}${JSON.stringify(value)}${this.refTail}`
  }
}
