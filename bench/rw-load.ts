// The remote_write load generator, run as its own process: `concurrency` senders POST snappy protobuf
// WriteRequests to mqwriter's /api/v1/write as fast as they are answered, like Prometheus' shards do.
// Each request carries one sample of `seriesPerRequest` DCGM series (nodes × 8 GPUs × 10 metrics of a
// simulated fleet) at a timestamp no other request uses, so every sample is new content; encoded with
// SeriesEncoder (each series' labels encoded once), then snappy. A 503/429 is retried with the same
// body after 100 ms (Prometheus retries 5xx). Prints one JSON line.
import { Pool } from 'undici'
import { SeriesEncoder } from '../src/remotewrite/proto.js'
import { fleet } from '../src/remotewrite/fleet.js'

interface Args {
  url: string
  concurrency: number
  durationS: number
  seriesPerRequest: number
  fleetNodes: number
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as Args
  const labels = fleet(args.fleetNodes)
  // Labels encoded once per series, as a real sender's encoder costs little: the sender's CPU on this
  // 2-core machine must not be what is measured (protobufjs per request limited the offered load).
  const encoder = new SeriesEncoder(labels)
  const u = new URL(args.url)
  const pool = new Pool(u.origin, { connections: args.concurrency, pipelining: 1 })
  const deadline = Date.now() + args.durationS * 1000
  let seq = 0
  let offset = 0
  let requests = 0
  let samples = 0
  let retried = 0
  let failed = 0
  const base = Date.now()
  const latencies: number[] = []
  await Promise.all(
    Array.from({ length: args.concurrency }, async () => {
      while (Date.now() < deadline) {
        const ts = base + seq++
        const body = encoder.body(offset, args.seriesPerRequest, (i) => ({ value: (ts + i) % 100, timestamp: ts }))
        offset = (offset + args.seriesPerRequest) % labels.length
        for (;;) {
          const t0 = performance.now()
          const res = await pool.request({
            path: u.pathname,
            method: 'POST',
            headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
            body,
          })
          await res.body.dump()
          if (res.statusCode === 204) {
            latencies.push(performance.now() - t0)
            requests++
            samples += args.seriesPerRequest
            break
          }
          if (res.statusCode === 503 || res.statusCode === 429) {
            retried++
            await new Promise((r) => setTimeout(r, 100))
            continue
          }
          failed++
          break
        }
      }
    }),
  )
  await pool.close()
  latencies.sort((a, b) => a - b)
  const seconds = (Date.now() - base) / 1000
  console.log(
    JSON.stringify({
      requests,
      samples,
      retried,
      failed,
      samplesPerSecond: samples / seconds,
      requestP50: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
      requestP99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    }),
  )
}

await main()
