// Prometheus remote-write 1.0 on the wire: a snappy block (raw format, not framed) holding a protobuf
// prometheus.WriteRequest. Encoding with protobufjs (reflection, no code generation) and snappyjs (pure
// JavaScript: no native build or download on Node 20), as Prometheus sends it: for tests and the
// benchmark's load. mqwriter decodes with decode.ts (by hand, for speed; tested against this). Pure.
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

/** The protobufjs type (reflection): the reference the hand-written decoder (decode.ts) is tested against. */
export const WriteRequestType = WriteRequest

/** Encodes and compresses a WriteRequest, as Prometheus sends it (tests and the benchmark). */
export function encodeWriteRequest(series: readonly RemoteSeries[]): Buffer {
  const msg = WriteRequest.fromObject({ timeseries: series })
  return Buffer.from(snappy.compress(WriteRequest.encode(msg).finish()))
}
