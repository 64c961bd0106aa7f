// The receiving side of remote-write 1.0, decoded by hand for speed: a WriteRequest is three nested
// message types (TimeSeries → Label, Sample), and a receiver sees the same series in request after
// request. protobufjs (reflection) built an object per label and per sample — 8–9 µs a sample of
// mqwriter's single thread with snappy, most of it for labels it had already seen. This reader walks
// the wire format once, keeps each series' label bytes as a string key (so a cache can map a known
// series without decoding its labels again) and decodes labels only when asked. Unknown fields
// (exemplars, native histograms, metadata) are skipped by wire type, as protobufjs does. Pure: no I/O.
// protobufjs stays for encoding (tests, benchmarks) and as the reference the tests compare against.
import snappy from 'snappyjs'

export class RemoteWriteDecodeError extends Error {}

export interface Label {
  name: string
  value: string
}

export interface DecodedSeries {
  /** The series' label fields as they came on the wire (latin1, one char per byte): equal bytes, equal key. */
  key: string
  /** Decodes the labels (call only for a series not seen before). */
  labels(): Label[]
  /** value, timestamp (ms) pairs, flattened. */
  samples: number[]
}

const TWO_32 = 4_294_967_296

class Reader {
  pos: number
  /** Where the message being read ends (narrowed while reading a nested one). */
  end: number
  constructor(
    readonly buf: Buffer,
    pos: number,
    end: number,
  ) {
    this.pos = pos
    this.end = end
  }

  private fail(what: string): never {
    throw new RemoteWriteDecodeError(`body is not a prometheus.WriteRequest: ${what} at byte ${this.pos}`)
  }

  /** A varint that must fit 32 bits unsigned (tags, lengths). */
  uint32(): number {
    let v = 0
    // A running power of 128, not 2 ** shift: V8 calls pow() for a variable exponent (1.5% of mqwriter's CPU
    // under remote_write, in int64 alone).
    for (let shift = 0, unit = 1; shift < 35; shift += 7, unit *= 128) {
      if (this.pos >= this.end) this.fail('truncated varint')
      const b = this.buf[this.pos++]!
      v += (b & 0x7f) * unit
      if (b < 0x80) {
        if (v >= TWO_32) this.fail('varint too large')
        return v
      }
    }
    return this.fail('varint too long')
  }

  /** An int64 varint as a number (exact within ±2^53, like protobufjs's Long.toNumber()). */
  int64(): number {
    const start = this.pos
    let v = 0
    for (let shift = 0, unit = 1; shift < 49; shift += 7, unit *= 128) {
      if (this.pos >= this.end) this.fail('truncated varint')
      const b = this.buf[this.pos++]!
      v += (b & 0x7f) * unit
      if (b < 0x80) return v
    }
    // Longer than 7 bytes (large or negative): exact two's complement through BigInt.
    this.pos = start
    let big = 0n
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated varint')
      const b = this.buf[this.pos++]!
      big |= BigInt(b & 0x7f) << BigInt(7 * i)
      if (b < 0x80) return Number(BigInt.asIntN(64, big))
    }
    return this.fail('varint too long')
  }

  /** The end of a length-delimited field that starts here. */
  lengthEnd(): number {
    const len = this.uint32()
    const e = this.pos + len
    if (e > this.end) this.fail('length past the end')
    return e
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.int64()
        return
      case 1:
        this.pos += 8
        break
      case 2:
        this.pos = this.lengthEnd()
        return
      case 5:
        this.pos += 4
        break
      default:
        this.fail(`wire type ${wireType}`)
    }
    if (this.pos > this.end) this.fail('truncated field')
  }
}

function readLabels(buf: Buffer, ranges: number[]): Label[] {
  const out: Label[] = []
  for (let i = 0; i < ranges.length; i += 2) {
    const r = new Reader(buf, ranges[i]!, ranges[i + 1]!)
    let name = ''
    let value = ''
    while (r.pos < r.end) {
      const tag = r.uint32()
      const field = tag >>> 3
      if ((field === 1 || field === 2) && (tag & 7) === 2) {
        const e = r.lengthEnd()
        const s = buf.toString('utf8', r.pos, e)
        r.pos = e
        if (field === 1) name = s
        else value = s
      } else r.skip(tag & 7)
    }
    out.push({ name, value })
  }
  return out
}

/** The TimeSeries in [r.pos, end); leaves r at end with its end as it was. */
function readSeries(r: Reader, end: number): DecodedSeries {
  const buf = r.buf
  const outer = r.end
  r.end = end
  const ranges: number[] = []
  const samples: number[] = []
  let keyStart = -1
  let keyEnd = -1
  let contiguous = true
  while (r.pos < r.end) {
    const at = r.pos
    const tag = r.uint32()
    const field = tag >>> 3
    const wt = tag & 7
    if (field === 1 && wt === 2) {
      const e = r.lengthEnd()
      ranges.push(r.pos, e)
      if (keyStart < 0) keyStart = at
      else if (keyEnd !== at) contiguous = false
      keyEnd = e
      r.pos = e
    } else if (field === 2 && wt === 2) {
      const e = r.lengthEnd()
      const seriesEnd = r.end
      r.end = e
      let value = 0
      let ts = 0
      while (r.pos < e) {
        const t = r.uint32()
        if (t === 0x09) {
          if (r.pos + 8 > e) throw new RemoteWriteDecodeError(`body is not a prometheus.WriteRequest: truncated double at byte ${r.pos}`)
          value = buf.readDoubleLE(r.pos)
          r.pos += 8
        } else if (t === 0x10) ts = r.int64()
        else r.skip(t & 7)
      }
      r.end = seriesEnd
      samples.push(value, ts)
    } else r.skip(wt)
  }
  r.end = outer
  let key: string
  if (contiguous) key = keyStart < 0 ? '' : buf.toString('latin1', keyStart, keyEnd)
  else {
    key = ''
    for (let i = 0; i < ranges.length; i += 2) key += `${buf.toString('latin1', ranges[i]!, ranges[i + 1]!)}\u0100`
  }
  return { key, labels: () => readLabels(buf, ranges), samples }
}

/** Snappy-decompresses (at most maxDecodedBytes) and decodes a WriteRequest. Throws RemoteWriteDecodeError. */
export function decodeWriteRequest(body: Uint8Array, maxDecodedBytes: number): DecodedSeries[] {
  let raw: Uint8Array
  try {
    raw = snappy.uncompress(body, maxDecodedBytes)
  } catch (err) {
    throw new RemoteWriteDecodeError(`body is not a snappy block within ${maxDecodedBytes} bytes: ${(err as Error).message}`)
  }
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
  const r = new Reader(buf, 0, buf.length)
  const out: DecodedSeries[] = []
  while (r.pos < r.end) {
    const tag = r.uint32()
    if (tag >>> 3 === 1 && (tag & 7) === 2) {
      out.push(readSeries(r, r.lengthEnd()))
    } else r.skip(tag & 7)
  }
  return out
}
