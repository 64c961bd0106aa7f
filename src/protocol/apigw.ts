// apigw's answers (the read API): the schemas the routes declare (and the OpenAPI document shows) and
// the types the CLI's client reads them as.
import { Type, type Static, type TSchema } from '@sinclair/typebox'

/** OpenAPI 3.0's `nullable` (what the committed docs/openapi.json uses) with the matching static type. */
export function Nullable<T extends TSchema>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, nullable: true })
}

export const Gpu = Type.Object(
  {
    id: Type.String({ description: 'The GPU uuid (GPU-…): globally unique, the {id} of the telemetry endpoint.' }),
    hostname: Type.String(),
    gpu_id: Type.Integer({ description: 'Index of the GPU on its host (0–7); repeats across hosts.' }),
    device: Type.String({ description: 'e.g. nvidia0' }),
    model_name: Type.String(),
    last_seen: Type.String({ format: 'date-time', description: 'Time of the newest telemetry row of this GPU, to within 1 second (the gpus table is written again only when a GPU changes or 1 s has passed).' }),
  },
  { $id: 'Gpu' },
)
export type Gpu = Static<typeof Gpu>

export const TelemetryRow = Type.Object(
  {
    ts: Type.String({ format: 'date-time' }),
    metric_name: Type.String({ description: 'DCGM field, e.g. DCGM_FI_DEV_GPU_UTIL' }),
    value: Type.Number(),
    msg_uuid: Type.String({ format: 'uuid', description: 'The message id: unique per row, the second key of the page order.' }),
    container: Type.Optional(Nullable(Type.String({ description: 'Only with detail=true.' }))),
    pod: Type.Optional(Nullable(Type.String({ description: 'Only with detail=true.' }))),
    namespace: Type.Optional(Nullable(Type.String({ description: 'Only with detail=true.' }))),
    labels: Type.Optional(
      Nullable(Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string' }, description: 'The exporter labels; only with detail=true.' })),
    ),
  },
  { $id: 'TelemetryRow' },
)
export type TelemetryRow = Static<typeof TelemetryRow>

/** GET /api/v1/gpus answer. */
export const GpuList = Type.Object(
  { gpus: Type.Array(Type.Ref('Gpu#')) },
  { description: 'Every GPU, ordered by hostname and gpu_id.' },
)
export type GpuList = { gpus: Gpu[] }

/** GET /api/v1/gpus/{id}/telemetry answer: one page of rows. */
export const TelemetryPage = Type.Object(
  {
    id: Type.String(),
    telemetry: Type.Array(Type.Ref('TelemetryRow#')),
    next_cursor: Nullable(Type.String({ description: 'Cursor of the next page; null when this is the last page.' })),
  },
  { description: 'One page of rows in (ts, msg_uuid) order.' },
)
export type TelemetryPage = { id: string; telemetry: TelemetryRow[]; next_cursor: string | null }
