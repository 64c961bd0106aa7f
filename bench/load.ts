// The HTTP load generator, run as its own process (so it does not share an event loop with the server
// under test): autocannon with keep-alive connections, POSTing JSON bodies built from a template that
// rotates over many partition keys. Prints one JSON line with the result.
import autocannon from 'autocannon'
import { bodyFor } from './bodies.js'

interface LoadArgs {
  url: string
  connections: number
  durationS: number
  /** "single": one message per request; "array:N": N messages per request; "hello": a fixed ~400-byte body; "get": GET the paths. */
  mode: string
  /** For mode "get": request paths rotated over. */
  paths?: string[]
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as LoadArgs
  // Pre-build a rotation of bodies so the generator spends its time sending, not serialising.
  const bodies = args.mode === 'get' ? [''] : Array.from({ length: 512 }, (_, i) => bodyFor(args.mode, i))
  const paths = args.paths ?? []
  let n = 0
  const requests =
    args.mode === 'get'
      ? [{ method: 'GET', setupRequest: (req: Record<string, unknown>) => ({ ...req, path: paths[n++ % paths.length] }) }]
      : [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req: Record<string, unknown>) => ({ ...req, body: bodies[n++ % bodies.length] }),
          },
        ]
  const result = await autocannon({
    url: args.url,
    connections: args.connections,
    duration: args.durationS,
    pipelining: 1,
    requests,
  })
  const out = {
    requestsPerSecond: result.requests.average,
    total: result.requests.total,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    bodyBytes: bodies[0]!.length,
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

void main()
