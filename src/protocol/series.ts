// apigw's bucketed and fleet answers (issue 14): the schemas the routes declare, with the examples the
// OpenAPI document shows, the limits they promise, and the types the CLI's client reads them as.

export const AGGS = ['avg', 'min', 'max', 'last', 'count'] as const
export type Agg = (typeof AGGS)[number]
export const GROUP_BYS = ['gpu', 'hostname', 'model'] as const
export type GroupBy = (typeof GROUP_BYS)[number]
/** Like Prometheus' 11,000 points per series: more is never drawn, and bounds each answer. */
export const MAX_POINTS_PER_SERIES = 11_000
/** Points per response (all series together): about 2.5 MB of JSON at most. */
export const MAX_POINTS = 100_000

/**
 * The table a bucketed answer was read from: raw rows, per-minute or hourly rollups (the coarsest whose
 * bucket divides the step and whose retention covers the window; see apigw/query.ts pickSource).
 */
export const SOURCES = ['telemetry', 'telemetry_1m', 'telemetry_1h'] as const
export type Source = (typeof SOURCES)[number]

/** [bucket start in Unix seconds, value] */
export type Point = [number, number]
export interface LatestValue {
  value: number
  ts: string
}
export interface FleetGpu {
  id: string
  hostname: string
  gpu_id: number
  device: string
  model_name: string
  last_seen: string
  latest?: Record<string, LatestValue>
}
export interface FleetList {
  gpus: FleetGpu[]
}
interface Bucketed {
  step_seconds: number
  agg: Agg
  source?: Source
  start: string
  end: string
}
export interface GpuSeries extends Bucketed {
  gpu: string
  series: { metric: string; points: Point[] }[]
}
export interface FleetSeries extends Bucketed {
  metric: string
  group_by: GroupBy
  series: { group: string; points: Point[] }[]
}

const point = {
  type: 'array',
  description: '[bucket start in Unix seconds, value]',
  items: { type: 'number' },
  minItems: 2,
  maxItems: 2,
} as const

export const latestValueSchema = {
  $id: 'LatestValue',
  type: 'object',
  required: ['value', 'ts'],
  properties: {
    value: { type: 'number' },
    ts: { type: 'string', format: 'date-time', description: 'Sample time of that value.' },
  },
} as const

export const fleetGpuSchema = {
  $id: 'FleetGpu',
  type: 'object',
  required: ['id', 'hostname', 'gpu_id', 'device', 'model_name', 'last_seen'],
  properties: {
    id: { type: 'string', description: 'The GPU uuid (GPU-…): globally unique, the {id} of the telemetry endpoint.' },
    hostname: { type: 'string' },
    gpu_id: { type: 'integer', description: 'Index of the GPU on its host (0–7); repeats across hosts.' },
    device: { type: 'string', description: 'e.g. nvidia0' },
    model_name: { type: 'string' },
    last_seen: { type: 'string', format: 'date-time', description: 'Time of the newest telemetry row of this GPU, to within 1 second (the gpus table is written again only when a GPU changes or 1 s has passed).' },
    latest: {
      type: 'object',
      additionalProperties: { $ref: 'LatestValue#' },
      description: 'Only with `metrics`: the newest value and its time per requested metric; a metric this GPU has no value of is absent.',
    },
  },
} as const

const GPU_EXAMPLE = {
  id: 'GPU-5fd4f087-86f3-7a43-b711-4771313afc50',
  hostname: 'mtv5-dgx1-hgpu-031',
  gpu_id: 0,
  device: 'nvidia0',
  model_name: 'NVIDIA H100 80GB HBM3',
  last_seen: '2026-11-30T08:15:40.000000Z',
}

export const fleetListResponse = {
  description: 'GPUs ordered by hostname and gpu_id, or by the latest value of `sort`.',
  type: 'object',
  required: ['gpus'],
  properties: { gpus: { type: 'array', items: { $ref: 'FleetGpu#' } } },
  examples: [
    { gpus: [GPU_EXAMPLE] },
    {
      gpus: [
        {
          ...GPU_EXAMPLE,
          latest: {
            DCGM_FI_DEV_GPU_UTIL: { value: 98, ts: '2026-11-30T08:15:40.000000Z' },
            DCGM_FI_DEV_POWER_USAGE: { value: 612.5, ts: '2026-11-30T08:15:40.000000Z' },
          },
        },
      ],
    },
  ],
} as const

const bucketFields = {
  step_seconds: { type: 'integer', description: 'Bucket width; buckets start at multiples of it from the Unix epoch.' },
  agg: { type: 'string', enum: [...AGGS], description: 'How the samples of a bucket combine.' },
  source: {
    type: 'string',
    enum: [...SOURCES],
    description:
      'The table that answered: telemetry_1h (hourly rollups) for a step of whole hours, telemetry_1m (per-minute rollups) for whole minutes, telemetry (raw rows) otherwise — the coarsest of those whose retention covers the window start (else the one kept longest). Every source gives the same values for the same buckets.',
  },
  start: { type: 'string', format: 'date-time', description: 'Start of the requested window (resolved when relative).' },
  end: { type: 'string', format: 'date-time', description: 'End of the requested window (resolved when relative).' },
} as const

export const gpuSeriesSchema = {
  $id: 'GpuSeries',
  description: `With \`step\`: one series per metric, points [bucket start, value] in time order; buckets without samples are omitted. At most ${MAX_POINTS_PER_SERIES.toLocaleString('en')} points per series and ${MAX_POINTS.toLocaleString('en')} per response.`,
  type: 'object',
  required: ['gpu', 'step_seconds', 'agg', 'start', 'end', 'series'],
  properties: {
    gpu: { type: 'string' },
    ...bucketFields,
    series: {
      type: 'array',
      items: {
        type: 'object',
        required: ['metric', 'points'],
        properties: { metric: { type: 'string' }, points: { type: 'array', items: point } },
      },
    },
  },
} as const

export const gpuSeriesExample = {
      gpu: 'GPU-5fd4f087-86f3-7a43-b711-4771313afc50',
      step_seconds: 60,
      agg: 'avg',
      source: 'telemetry_1m',
      start: '2026-11-30T07:00:00.000Z',
      end: '2026-11-30T07:03:00.000Z',
      series: [
        { metric: 'DCGM_FI_DEV_GPU_UTIL', points: [[1764486000, 97.5], [1764486060, 98.1], [1764486120, 96.8], [1764486180, 99]] },
        { metric: 'DCGM_FI_DEV_GPU_TEMP', points: [[1764486000, 61], [1764486060, 61.5], [1764486120, 62], [1764486180, 62]] },
      ],
}

export const fleetSeriesResponse = {
  description: `One metric across the fleet: one series per group (GPU uuid, hostname or model), in group order; points [bucket start, value]. At most ${MAX_POINTS_PER_SERIES.toLocaleString('en')} points per series and ${MAX_POINTS.toLocaleString('en')} per response.`,
  type: 'object',
  required: ['metric', 'step_seconds', 'agg', 'group_by', 'start', 'end', 'series'],
  properties: {
    metric: { type: 'string' },
    ...bucketFields,
    group_by: { type: 'string', enum: [...GROUP_BYS] },
    series: {
      type: 'array',
      items: {
        type: 'object',
        required: ['group', 'points'],
        properties: { group: { type: 'string', description: 'GPU uuid, hostname or model name.' }, points: { type: 'array', items: point } },
      },
    },
  },
  examples: [
    {
      metric: 'DCGM_FI_DEV_POWER_USAGE',
      step_seconds: 300,
      agg: 'avg',
      source: 'telemetry_1m',
      group_by: 'hostname',
      start: '2026-11-30T07:00:00.000Z',
      end: '2026-11-30T07:10:00.000Z',
      series: [
        { group: 'mtv5-dgx1-hgpu-031', points: [[1764486000, 402.7], [1764486300, 398.2], [1764486600, 405.1]] },
        { group: 'mtv5-dgx1-hgpu-032', points: [[1764486000, 377.9], [1764486300, 381.4], [1764486600, 379]] },
      ],
    },
  ],
} as const
