// Issue 17: a client that sends its body one byte at a time is cut off by the request timeout, and a
// client that never finishes its headers by the headers timeout; meanwhile the server keeps serving.
import { connect } from 'node:net'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createRegistry } from '../metrics/index.js'
import { buildServer } from './server.js'

function slowClient(port: number, opts: { headersDone: boolean }): Promise<number> {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const s = connect(port, '127.0.0.1')
    let timer: NodeJS.Timeout | undefined
    s.on('connect', () => {
      s.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n`)
      if (opts.headersDone) s.write('\r\n{')
      timer = setInterval(() => s.write(opts.headersDone ? ' ' : 'X-Slow: 1\r\n'), 200)
    })
    s.on('data', () => {})
    s.on('error', () => {})
    s.on('close', () => {
      clearInterval(timer)
      resolve(Date.now() - t0)
    })
  })
}

describe('server timeouts', () => {
  it('cuts slow-body and slow-header clients within the configured timeouts and keeps serving', async () => {
    const app = buildServer({
      service: 'test',
      logger: pino({ level: 'silent' }),
      registry: createRegistry({ defaultMetrics: false }),
      limits: { requestTimeoutMs: 1500, headersTimeoutMs: 1000 },
    })
    app.post('/echo', async (req) => req.body)
    await app.listen({ host: '127.0.0.1', port: 0 })
    const port = (app.server.address() as { port: number }).port
    try {
      const [body, headers] = await Promise.all([slowClient(port, { headersDone: true }), slowClient(port, { headersDone: false })])
      expect(body).toBeLessThan(4000)
      expect(headers).toBeLessThan(4000)
      const ok = await fetch(`http://127.0.0.1:${port}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' })
      expect(ok.status).toBe(200)
    } finally {
      await app.close()
    }
  }, 20_000)
})
