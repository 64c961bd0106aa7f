// Child processes for the benchmarks: the services under test and the load generator each get their
// own process (and event loop). Services start from the built package (bin/run.js → dist) like
// production; the bench's own helpers (load generator, hello-world server, peer worker) run from
// bench/ through tsx, which transpiles them once at load (no cost per request).
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../src/paths.js'

export const ROOT = PACKAGE_ROOT
export const RUN_JS = join(ROOT, 'bin', 'run.js')
export const BENCH_DIR = join(PACKAGE_ROOT, 'bench')

/** node arguments that run one of the bench's own TypeScript modules (bench/<module>.ts). */
export function benchModule(module: string): string[] {
  return ['--import', 'tsx', join(BENCH_DIR, module)]
}

export interface Service {
  child: ChildProcess
  url: string
  stop(): Promise<void>
}

export async function waitReady(url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${url}/readyz`)
      if (r.ok) return
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} did not become ready within ${timeoutMs} ms`)
}

/** Starts `tpipe serve <service>` on a port and waits for /readyz. */
export async function startService(service: string, port: number, env: Record<string, string>, args: string[] = []): Promise<Service> {
  // The suite's database wins over one the bench itself was pointed at: TPIPE_DATABASE_URL takes precedence
  // over DATABASE_URL, so an inherited TPIPE_DATABASE_URL sent the services to the base database (a drain
  // that never finished, an API answering 500).
  const database = env.DATABASE_URL ? { TPIPE_DATABASE_URL: env.DATABASE_URL } : {}
  const child = spawn(process.execPath, [RUN_JS, 'serve', service, '--port', String(port), '--host', '127.0.0.1', ...args], {
    env: { ...process.env, NODE_ENV: 'production', TPIPE_LOG_LEVEL: 'warn', ...env, ...database },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const url = `http://127.0.0.1:${port}`
  await waitReady(url)
  return {
    child,
    url,
    async stop() {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000)
      await once(child, 'exit')
      clearTimeout(t)
    },
  }
}

/** Runs a bench module as a child process and parses the JSON line it prints. */
export async function runJsonChild<T>(module: string, args: unknown): Promise<T> {
  const child = spawn(process.execPath, [...benchModule(module), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  const [code] = (await once(child, 'exit')) as [number]
  if (code !== 0) throw new Error(`${module} exited ${code}`)
  const line = out.trim().split('\n').at(-1) ?? '{}'
  return JSON.parse(line) as T
}

/** A port the OS just handed out as free (a fixed range would collide with ephemeral client ports). */
export { freePort as port } from '../src/util/net.js'
