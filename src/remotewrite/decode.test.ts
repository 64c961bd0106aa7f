// The hand-written WriteRequest decoder against protobufjs (the reference), and the series mapper against
// toTelemetry: the same series, samples, ids and payload JSON, on structured random requests and on the
// edge cases of the wire format; hostile bytes give a RemoteWriteDecodeError, never anything else.
import snappy from 'snappyjs'
import { describe, expect, it } from 'vitest'
import { SeriesMapper } from '../mqwriter/remote-write.js'
import { toTelemetry } from '../scrape/dcgm.js'
import { partitionOf } from '../partitions/hash.js'
import { SERIES_FIELD } from '../protocol/bundle.js'
import { seriesId } from '../telemetry/series.js'
import { RemoteWriteDecodeError, decodeWriteRequest } from './decode.js'
import { SeriesEncoder, WriteRequestType, encodeWriteRequest, type RemoteSeries } from './proto.js'
import { scraper as scraperSettings } from '../config/settings/scraper.js'
import { fleet } from './fleet.js'

/** A small deterministic PRNG (mulberry32): failures reproduce. */
function rng(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ODD = ['', 'a"b', 'back\\slash', 'ünïcødé ✓', '😀 emoji', 'new\nline', 'x'.repeat(300), 'NUL\0inside', '10.0.0.1:9400']
const VALUES = [0, -0, 1.5, -3.25e-7, 1e21, 5e-324, Number.MAX_VALUE, NaN, Infinity, -Infinity]
const TIMES = [0, 1, 1_764_500_000_000, 1_764_500_000_123, -1, -1_000_000, 2 ** 53 - 1, 8.64e15, 8.64e15 + 1]

function randomSeries(r: () => number, n: number): RemoteSeries[] {
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!
  const out: RemoteSeries[] = []
  for (let i = 0; i < n; i++) {
    const labels: { name: string; value: string }[] = []
    const dcgm = r() < 0.8
    labels.push({ name: '__name__', value: dcgm ? pick(['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_POWER_USAGE']) : pick(['up', 'node_cpu_seconds_total']) })
    if (r() < 0.9) labels.push({ name: 'UUID', value: `GPU-${Math.floor(r() * 50)}` })
    if (r() < 0.9) labels.push({ name: 'gpu', value: pick(['0', '7', '32767', '32768', 'x', '']) })
    if (r() < 0.5) labels.push({ name: 'Hostname', value: pick(ODD) })
    if (r() < 0.5) labels.push({ name: 'instance', value: pick(ODD) })
    if (r() < 0.3) labels.push({ name: 'pod', value: pick(ODD) })
    if (r() < 0.3) labels.push({ name: 'container', value: pick(ODD) })
    if (r() < 0.3) labels.push({ name: 'modelName', value: pick(ODD) })
    if (r() < 0.2) labels.push({ name: pick(['zz', 'a_label', 'UUID']), value: pick(ODD) }) // a repeated name: the last wins
    const samples = Array.from({ length: Math.floor(r() * 4) }, () => ({ value: pick(VALUES), timestamp: pick(TIMES) }))
    out.push({ labels, samples })
  }
  return out
}

/**
 * What the protobufjs decode + toTelemetry path (before this decoder) made of a request, with each
 * payload's labels replaced by its series id (SERIES_FIELD) and the series to register, each once, in
 * the order of their first row.
 */
function reference(body: Buffer, prefix: string, ids = true) {
  const msg = WriteRequestType.toObject(WriteRequestType.decode(snappy.uncompress(body)), { longs: Number, defaults: true }) as {
    timeseries: { labels: { name: string; value: string }[]; samples: { value: number; timestamp: number }[] }[]
  }
  const counts = { accepted: 0, not_dcgm: 0, non_finite: 0, unmapped: 0, bad_time: 0 }
  const rows: { msg_uuid: string; partition: number; key: string; payloadJson: string }[] = []
  const register = new Set<string>()
  for (const s of msg.timeseries) {
    const labels: Record<string, string> = {}
    let name = ''
    for (const l of s.labels) {
      if (l.name === '__name__') name = l.value
      else labels[l.name] = l.value
    }
    if (!name.startsWith(prefix)) {
      counts.not_dcgm += s.samples.length
      continue
    }
    for (const smp of s.samples) {
      if (!Number.isFinite(smp.value)) {
        counts.non_finite++
        continue
      }
      let m
      try {
        m = toTelemetry(name, labels, smp.value, smp.timestamp, (labels.instance ?? '').replace(/:\d+$/, ''))
      } catch {
        counts.bad_time++ // new Date(t).toISOString() throws past ±8.64e15 ms
        continue
      }
      if (typeof m === 'string') {
        counts.unmapped++
        continue
      }
      const labelsJson = JSON.stringify(m.payload.labels)
      const id = seriesId(labelsJson)
      rows.push({ msg_uuid: m.id, partition: partitionOf(m.key), key: m.key, payloadJson: JSON.stringify(ids ? { ...m.payload, labels: null, [SERIES_FIELD]: id } : m.payload) })
      if (ids) register.add(`{"series_id":"${id}","labels":${labelsJson}}`)
    }
  }
  counts.accepted = rows.length
  return { rows, counts, register: [...register] }
}

/** A mapping's series to register as their JSON, each once (two label sets may collapse into one). */
const mapped = (m: ReturnType<SeriesMapper['map']>) => ({ rows: m.rows, counts: m.counts, register: [...new Set(m.register.map((t) => t.seriesJson))] })

describe('decodeWriteRequest (by hand) and SeriesMapper', () => {
  it('decode to the same series and samples as protobufjs, and map them to the same rows as toTelemetry', () => {
    const r = rng(42)
    for (let round = 0; round < 200; round++) {
      const series = randomSeries(r, 1 + Math.floor(r() * 20))
      const body = encodeWriteRequest(series)
      const decoded = decodeWriteRequest(body, 1 << 20)
      expect(decoded.map((d) => ({ labels: d.labels(), samples: d.samples }))).toEqual(
        series.map((s) => ({ labels: s.labels, samples: s.samples.flatMap((x) => [x.value, x.timestamp]) })),
      )
      // A fresh mapper, and one that has seen everything before (its cache answers): the same output.
      const mapper = new SeriesMapper('DCGM_', 1 << 20)
      const want = reference(body, 'DCGM_')
      expect(mapped(mapper.map(decoded))).toEqual(want)
      // Not registered until a publish commits (registered()): the next request registers them again.
      const again = mapper.map(decodeWriteRequest(body, 1 << 20), 1000)
      expect(mapped(again)).toEqual(want)
      mapper.registered(again.register, 1000)
      expect(mapped(mapper.map(decodeWriteRequest(body, 1 << 20), 2000))).toEqual({ ...want, register: [] })
      // Due again after the refresh interval (1 h, spread over its last quarter).
      expect(mapped(mapper.map(decodeWriteRequest(body, 1 << 20), 1000 + 3_600_000))).toEqual(want)
      // A cache too small to keep any template: labels stay in the payloads, nothing is registered.
      expect(mapped(new SeriesMapper('DCGM_', 1).map(decoded))).toEqual(reference(body, 'DCGM_', false))
    }
  })

  it('keys a series by its label bytes: equal labels share a key, any difference does not', () => {
    const a = { name: '__name__', value: 'DCGM_FI_DEV_GPU_UTIL' }
    const body = encodeWriteRequest([
      { labels: [a, { name: 'UUID', value: 'GPU-1' }], samples: [{ value: 1, timestamp: 1 }] },
      { labels: [a, { name: 'UUID', value: 'GPU-1' }], samples: [{ value: 2, timestamp: 2 }] },
      { labels: [a, { name: 'UUID', value: 'GPU-2' }], samples: [] },
      { labels: [a, { name: 'UUID', value: 'GPU-1' }, { name: 'x', value: '' }], samples: [] },
    ])
    const keys = decodeWriteRequest(body, 1 << 20).map((s) => s.key)
    expect(keys[0]).toBe(keys[1])
    expect(new Set(keys).size).toBe(3)
  })

  it('skips unknown fields of every wire type and reads samples whose fields come in any order or are missing', () => {
    // TimeSeries: label, an unknown varint (9), a sample with timestamp before value, an unknown fixed32
    // (10) and fixed64 (11), a sample with no timestamp, then a label after the samples (not contiguous).
    const label = (n: string, v: string) => {
      const nb = Buffer.from(n)
      const vb = Buffer.from(v)
      const inner = Buffer.concat([Buffer.from([0x0a, nb.length]), nb, Buffer.from([0x12, vb.length]), vb])
      return Buffer.concat([Buffer.from([0x0a, inner.length]), inner])
    }
    const dbl = (x: number) => {
      const b = Buffer.alloc(8)
      b.writeDoubleLE(x)
      return b
    }
    const s1 = Buffer.concat([Buffer.from([0x10, 0x05, 0x09]), dbl(2.5)]) // timestamp 5, value 2.5
    const s2 = Buffer.concat([Buffer.from([0x09]), dbl(7)])
    const ts = Buffer.concat([
      label('__name__', 'DCGM_FI_DEV_GPU_UTIL'),
      Buffer.from([0x48, 0x96, 0x01]),
      Buffer.from([0x12, s1.length]),
      s1,
      Buffer.from([0x55, 1, 2, 3, 4, 0x59, 1, 2, 3, 4, 5, 6, 7, 8]),
      Buffer.from([0x12, s2.length]),
      s2,
      label('UUID', 'GPU-9'),
    ])
    const req = Buffer.concat([Buffer.from([0x0a, ts.length]), ts, Buffer.from([0x1a, 0x02, 0x08, 0x01])]) // + metadata (field 3)
    const body = Buffer.from(snappy.compress(req))
    const [s] = decodeWriteRequest(body, 1 << 20)
    expect(s!.labels()).toEqual([
      { name: '__name__', value: 'DCGM_FI_DEV_GPU_UTIL' },
      { name: 'UUID', value: 'GPU-9' },
    ])
    expect(s!.samples).toEqual([2.5, 5, 7, 0])
    const ref = WriteRequestType.toObject(WriteRequestType.decode(req), { longs: Number, defaults: true }) as { timeseries: { samples: unknown[] }[] }
    expect(ref.timeseries[0]!.samples).toEqual([
      { value: 2.5, timestamp: 5 },
      { value: 7, timestamp: 0 },
    ])
  })

  it('throws RemoteWriteDecodeError (and nothing else) for truncated and random bodies', () => {
    const good = snappy.uncompress(encodeWriteRequest(randomSeries(rng(7), 30)))
    const r = rng(99)
    let threw = 0
    for (let i = 0; i < 3000; i++) {
      let raw: Uint8Array
      if (i < 1000) raw = good.subarray(0, Math.floor(r() * good.length))
      else if (i < 2000) {
        raw = Uint8Array.from(good)
        for (let k = 0; k < 4; k++) raw[Math.floor(r() * raw.length)] = Math.floor(r() * 256)
      } else raw = Uint8Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256))
      try {
        const out = decodeWriteRequest(Buffer.from(snappy.compress(raw)), 1 << 20)
        for (const s of out) s.labels()
      } catch (err) {
        expect(err).toBeInstanceOf(RemoteWriteDecodeError)
        threw++
      }
    }
    expect(threw).toBeGreaterThan(500)
  })

  it('the default cache holds the issue\'s reference fleet (500 nodes × 8 GPUs × 10 metrics, labels as Prometheus sends them): a second pass registers nothing and every sample carries its series id', () => {
    // Before, a template held its labels' JSON twice (the inline payload tail and the registration) and its
    // strings as ropes; its estimate, ~1.7 KB a series, let 64 MiB hold 38,936 of these 40,000 series. The
    // first fill evicted half; after it the other 1,064 were mapped again, labels inline, in every request.
    const labels = fleet(500)
    const encoder = new SeriesEncoder(labels)
    const mapper = new SeriesMapper('DCGM_', scraperSettings.remoteWriteSeriesCacheBytes.default as number)
    const pass = (ts: number) => {
      let register = 0
      let inline = 0
      for (let offset = 0; offset < labels.length; offset += 2000) {
        const m = mapper.map(decodeWriteRequest(encoder.body(offset, 2000, () => ({ value: 1, timestamp: ts })), 64 << 20), ts)
        mapper.registered(m.register, ts)
        register += m.register.length
        inline += m.rows.filter((r) => !r.payloadJson.includes(`"${SERIES_FIELD}":`)).length
      }
      return { register, inline }
    }
    expect(pass(1_000)).toEqual({ register: 40_000, inline: 0 })
    expect(pass(2_000)).toEqual({ register: 0, inline: 0 })
    expect(mapper.bytes).toBeLessThanOrEqual(scraperSettings.remoteWriteSeriesCacheBytes.default as number)
  }, 60_000)

  it('keeps its cache within the byte bound: when full it keeps what it has (the older half goes at most once a minute)', () => {
    const mapper = new SeriesMapper('DCGM_', 200_000)
    for (let i = 0; i < 2000; i++) {
      const body = encodeWriteRequest([
        { labels: [{ name: '__name__', value: 'DCGM_FI_DEV_GPU_UTIL' }, { name: 'UUID', value: `GPU-${i}` }, { name: 'gpu', value: '0' }], samples: [{ value: i, timestamp: 1000 + i }] },
      ])
      const { rows } = mapper.map(decodeWriteRequest(body, 1 << 20))
      expect(rows).toHaveLength(1)
      expect(mapper.bytes).toBeLessThanOrEqual(200_000)
    }
    expect(mapper.bytes).toBeGreaterThan(50_000)
    // A cache of 0 bytes keeps nothing and still maps.
    const none = new SeriesMapper('DCGM_', 0)
    const body = encodeWriteRequest([{ labels: [{ name: '__name__', value: 'DCGM_X' }, { name: 'UUID', value: 'GPU-1' }, { name: 'gpu', value: '1' }], samples: [{ value: 1, timestamp: 1 }] }])
    expect(none.map(decodeWriteRequest(body, 1 << 20)).rows).toHaveLength(1)
    expect(none.bytes).toBe(0)
  })
})

describe('SeriesEncoder (the benchmark sender)', () => {
  it('encodes the same bytes as protobufjs for one sample a series, wrapping around its series', () => {
    const labels = [
      [
        { name: '__name__', value: 'DCGM_FI_DEV_GPU_UTIL' },
        { name: 'UUID', value: 'GPU-ü-1' },
      ],
      [
        { name: '__name__', value: 'DCGM_FI_DEV_GPU_TEMP' },
        { name: 'Hostname', value: 'x'.repeat(300) },
      ],
      [{ name: '__name__', value: 'up' }],
    ]
    const enc = new SeriesEncoder(labels)
    const sample = (i: number) => ({ value: [42, -0.5, 1e300, 0][i % 4]!, timestamp: [0, 127, 128, 1_795_953_660_123][i % 4]! })
    const mine = enc.encode(1, 4, sample)
    const series: RemoteSeries[] = Array.from({ length: 4 }, (_, i) => ({ labels: labels[(1 + i) % 3]!, samples: [sample(i)] }))
    const reference = Buffer.from(snappy.uncompress(encodeWriteRequest(series)))
    expect(mine.equals(reference)).toBe(true)
    expect(Buffer.from(snappy.uncompress(enc.body(1, 4, sample))).equals(reference)).toBe(true)
  })
})
