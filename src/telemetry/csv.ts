// The DCGM exporter CSV: header-based column mapping and row → telemetry payload conversion, shared by
// the streamer (which replays a CSV) and dcgm-sim (which models GPUs from one). Pure: no I/O.
import { checkTelemetryPayload, parseLabels, type TelemetryPayload } from './payload.js'

export type Field =
  | 'timestamp'
  | 'metric_name'
  | 'gpu_id'
  | 'device'
  | 'gpu_uuid'
  | 'model_name'
  | 'hostname'
  | 'container'
  | 'pod'
  | 'namespace'
  | 'value'
  | 'labels_raw'

/**
 * The one alias table. Header names are compared after normalise(), so `modelName`, `model_name`,
 * `Model Name` and `MODELNAME` are the same column.
 */
export const ALIASES: Readonly<Record<Field, readonly string[]>> = {
  timestamp: ['timestamp', 'ts', 'time'],
  metric_name: ['metricname', 'metric', 'name'],
  gpu_id: ['gpuid', 'gpu', 'gpuindex'],
  device: ['device'],
  gpu_uuid: ['uuid', 'gpuuuid'],
  model_name: ['modelname', 'model'],
  hostname: ['hostname', 'host', 'node', 'nodename'],
  container: ['container'],
  pod: ['pod'],
  namespace: ['namespace'],
  value: ['value'],
  labels_raw: ['labelsraw', 'labels'],
}

/** Without these a row cannot become a telemetry message. The others default to empty/null. */
export const REQUIRED: readonly Field[] = ['metric_name', 'gpu_id', 'gpu_uuid', 'hostname', 'value']

export function normalise(header: string): string {
  return header.replace(/^\uFEFF/, '').replace(/[\s_-]+/g, '').toLowerCase()
}

export type ColumnMap = Readonly<Partial<Record<Field, number>>> & { readonly width: number }

export class MissingColumnError extends Error {
  constructor(
    readonly missing: Field[],
    readonly found: string[],
  ) {
    super(`the CSV has no ${missing.map((f) => `${f} column (accepted names: ${ALIASES[f].join(', ')})`).join('; no ')}; headers found: ${found.join(', ')}`)
    this.name = 'MissingColumnError'
  }
}

/** Finds each field's column by header; the first matching column wins. Throws when a required one is missing. */
export function mapColumns(header: readonly string[]): ColumnMap {
  const byName = new Map<string, number>()
  header.forEach((h, i) => {
    const n = normalise(h)
    if (!byName.has(n)) byName.set(n, i)
  })
  const map: Partial<Record<Field, number>> = {}
  for (const field of Object.keys(ALIASES) as Field[]) {
    for (const alias of ALIASES[field]) {
      const i = byName.get(alias)
      if (i !== undefined) {
        map[field] = i
        break
      }
    }
  }
  const missing = REQUIRED.filter((f) => map[f] === undefined)
  if (missing.length) throw new MissingColumnError(missing, [...header])
  return { ...map, width: header.length }
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

/**
 * One CSV record → the telemetry payload, stamped with `ts`. Returns the reason when the row is bad
 * (the caller logs it with the line number and counts it); never throws.
 */
export function toPayload(record: readonly string[], map: ColumnMap, ts: string): { payload: TelemetryPayload } | { error: string } {
  if (record.length !== map.width) return { error: `expected ${map.width} fields, got ${record.length}` }
  const get = (f: Field): string => {
    const i = map[f]
    return i === undefined ? '' : (record[i] ?? '').trim()
  }
  const orNull = (f: Field): string | null => {
    const v = get(f)
    return v === '' ? null : v
  }
  const uuid = get('gpu_uuid')
  if (uuid === '') return { error: 'empty uuid' }
  const metric = get('metric_name')
  if (metric === '') return { error: 'empty metric_name' }
  const gpuIdText = get('gpu_id')
  if (!/^\d+$/.test(gpuIdText)) return { error: `gpu_id ${JSON.stringify(gpuIdText)} is not a non-negative integer` }
  const valueText = get('value')
  if (!NUMBER.test(valueText)) return { error: `value ${JSON.stringify(valueText)} is not a number` }
  const value = Number(valueText)
  if (!Number.isFinite(value)) return { error: `value ${JSON.stringify(valueText)} is not finite` }
  let labels: Record<string, string> | null
  try {
    labels = parseLabels(get('labels_raw'))
  } catch (err) {
    return { error: (err as Error).message }
  }
  const payload: TelemetryPayload = {
    ts,
    metric_name: metric,
    gpu_id: Number(gpuIdText),
    device: get('device'),
    gpu_uuid: uuid,
    model_name: get('model_name'),
    hostname: get('hostname'),
    container: orNull('container'),
    pod: orNull('pod'),
    namespace: orNull('namespace'),
    value,
    labels,
  }
  const bad = checkTelemetryPayload(payload)
  return bad ? { error: bad } : { payload }
}

/** A record as the DCGM exporter writes it: every field quoted, quotes doubled. */
export function csvLine(fields: readonly string[]): string {
  return fields.map((f) => `"${f.replace(/"/g, '""')}"`).join(',')
}
