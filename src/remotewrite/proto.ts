// Prometheus remote-write 1.0 on the wire: a snappy block (raw format, not framed) holding a protobuf
// prometheus.WriteRequest. Decoding and encoding with protobufjs (reflection, no code generation) and
// snappyjs (pure JavaScript: no native build or download on Node 20). Pure: no I/O.
import protobuf from 'protobufjs/light.js'
import snappy from 'snappyjs'

// prometheus/prompb/types.proto + remote.proto, the fields of remote-write 1.0. Exemplars, native
// histograms and metadata are not telemetry and are skipped on decode (unknown fields are ignored).
const root = protobuf.Root.fromJSON({
  nested: {
    prometheus: {
      nested: {
        WriteRequest: { fields: { timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 } } },
        TimeSeries: {
          fields: {
            labels: { rule: 'repeated', type: 'Label', id: 1 },
            samples: { rule: 'repeated', type: 'Sample', id: 2 },
          },
        },
        Label: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        Sample: { fields: { value: { type: 'double', id: 1 }, timestamp: { type: 'int64', id: 2 } } },
      },
    },
  },
})
const WriteRequest = root.lookupType('prometheus.WriteRequest')

export interface RemoteSeries {
  labels: { name: string; value: string }[]
  samples: { value: number; timestamp: number }[]
}

export class RemoteWriteDecodeError extends Error {}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v
  if (v && typeof v === 'object' && 'toNumber' in v) return (v as { toNumber(): number }).toNumber()
  return Number(v)
}

/** Snappy-decompresses (at most maxDecodedBytes) and decodes a WriteRequest. Throws RemoteWriteDecodeError. */
export function decodeWriteRequest(body: Uint8Array, maxDecodedBytes: number): RemoteSeries[] {
  let raw: Uint8Array
  try {
    raw = snappy.uncompress(body, maxDecodedBytes)
  } catch (err) {
    throw new RemoteWriteDecodeError(`body is not a snappy block within ${maxDecodedBytes} bytes: ${(err as Error).message}`)
  }
  let msg: { timeseries?: { labels?: { name?: string; value?: string }[]; samples?: { value?: number; timestamp?: unknown }[] }[] }
  try {
    msg = WriteRequest.decode(raw) as unknown as typeof msg
  } catch (err) {
    throw new RemoteWriteDecodeError(`body is not a prometheus.WriteRequest: ${(err as Error).message}`)
  }
  return (msg.timeseries ?? []).map((ts) => ({
    labels: (ts.labels ?? []).map((l) => ({ name: l.name ?? '', value: l.value ?? '' })),
    samples: (ts.samples ?? []).map((s) => ({ value: s.value ?? 0, timestamp: toNumber(s.timestamp ?? 0) })),
  }))
}

/** Encodes and compresses a WriteRequest, as Prometheus sends it (tests and the benchmark). */
export function encodeWriteRequest(series: readonly RemoteSeries[]): Buffer {
  const msg = WriteRequest.fromObject({ timeseries: series })
  return Buffer.from(snappy.compress(WriteRequest.encode(msg).finish()))
}
