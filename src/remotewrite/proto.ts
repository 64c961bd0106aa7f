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

/**
 * A sender's fast path, as Prometheus' own (Go) encoder is fast: each series' labels are encoded once,
 * then a request is those bytes and one sample a series, spliced — no reflection, no object per sample.
 * Produces the same bytes as encodeWriteRequest for one sample a series (tested). For the benchmark's
 * load, so that the sender's CPU on this 2-core machine is not what is measured.
 */
export class SeriesEncoder {
  private readonly labels: Buffer[]

  constructor(series: readonly RemoteSeries['labels'][]) {
    this.labels = series.map((labels) => Buffer.concat(labels.map((l) => field(1, Buffer.concat([field(1, Buffer.from(l.name)), field(2, Buffer.from(l.value))])))))
  }

  get size(): number {
    return this.labels.length
  }

  /** One sample for each of `count` series from `offset` (wrapping), uncompressed WriteRequest bytes. */
  encode(offset: number, count: number, sample: (i: number) => { value: number; timestamp: number }): Buffer {
    const parts: Buffer[] = []
    for (let i = 0; i < count; i++) {
      const { value, timestamp } = sample(i)
      // proto3: a zero value or timestamp is left out, as Prometheus and protobufjs do
      const s = Buffer.alloc(1 + 8 + 1 + 10)
      let end = 0
      if (value !== 0) {
        s[end] = 0x09 // field 1, 64-bit: value
        s.writeDoubleLE(value, end + 1)
        end += 9
      }
      if (timestamp !== 0) {
        s[end] = 0x10 // field 2, varint: timestamp
        end = writeVarint(s, end + 1, timestamp)
      }
      const ts = Buffer.concat([this.labels[(offset + i) % this.labels.length]!, field(2, s.subarray(0, end))])
      parts.push(field(1, ts))
    }
    return Buffer.concat(parts)
  }

  /** encode(), snappy-compressed: a request body. */
  body(offset: number, count: number, sample: (i: number) => { value: number; timestamp: number }): Buffer {
    return Buffer.from(snappy.compress(this.encode(offset, count, sample)))
  }
}

/** A length-delimited protobuf field (wire type 2). */
function field(no: number, bytes: Buffer): Buffer {
  const head = Buffer.alloc(11)
  head[0] = (no << 3) | 2
  const end = writeVarint(head, 1, bytes.length)
  return Buffer.concat([head.subarray(0, end), bytes])
}

/** Writes a non-negative integer (≤ 2^53) as a varint at `at`; returns the end offset. */
function writeVarint(buf: Buffer, at: number, n: number): number {
  if (n < 0) throw new RangeError('negative varints are not needed here')
  while (n >= 0x80) {
    buf[at++] = (n % 0x80) | 0x80
    n = Math.floor(n / 0x80)
  }
  buf[at++] = n
  return at
}
