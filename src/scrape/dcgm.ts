// DCGM samples (scraped from dcgm-exporter, or received by remote_write) → telemetry messages with the
// same fields as a CSV row, and the content-derived message id that makes both sources idempotent. Pure.
import { createHash } from 'node:crypto'
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
  // One string, hashed once (an update() per label costs more than the hash). \0 and \xff cannot appear
  // in names; values are length-prefixed so no two label sets collide.
  let text = name
  for (const k of Object.keys(labels).sort()) {
    if (k === '__name__') continue
    const v = labels[k]!
    text += `\0${k}\xff${v.length}:${v}`
  }
  const b = createHash('sha256').update(`${text}\0@${timestampMs}`).digest()
  b[6] = (b[6]! & 0x0f) | 0x80 // version 8
  b[8] = (b[8]! & 0x3f) | 0x80 // RFC 9562 variant
  const x = b.toString('hex', 0, 16)
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`
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
  return t.length > MAX_TEXT ? t.slice(0, MAX_TEXT) : t
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
  const uuid = str(labels, 'UUID', 'uuid', 'gpu_uuid')
  if (!uuid) return 'no_uuid'
  const gpuRaw = str(labels, 'gpu', 'gpu_id', 'GPU_I_ID')
  const gpu = gpuRaw !== undefined && /^\d{1,5}$/.test(gpuRaw) ? Number(gpuRaw) : NaN
  if (!(gpu >= 0 && gpu <= 32767)) return 'no_gpu_index'
  const all: Record<string, string> = { __name__: name }
  for (const k in labels) if (k !== '__name__') all[k] = clip(labels[k]!)
  const empty = (v: string | undefined) => (v === undefined || v === '' ? null : clip(v))
  const payload: TelemetryPayload = {
    ts: new Date(timestampMs).toISOString(),
    metric_name: clip(name),
    gpu_id: gpu,
    device: clip(str(labels, 'device') ?? ''),
    gpu_uuid: clip(uuid),
    model_name: clip(str(labels, 'modelName', 'model_name') ?? ''),
    hostname: clip(str(labels, 'Hostname', 'hostname') ?? fallbackHost),
    container: empty(str(labels, 'container', 'exported_container')),
    pod: empty(str(labels, 'pod', 'exported_pod')),
    namespace: empty(str(labels, 'namespace', 'exported_namespace')),
    value,
    labels: all,
  }
  return { key: payload.gpu_uuid, id: sampleId(name, labels, timestampMs), payload }
}
