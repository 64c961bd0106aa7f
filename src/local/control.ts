// The control endpoint of a running `tpipe dev` (localhost only): `tpipe status` reads /status,
// `tpipe scale` posts /scale and, with `accept: application/x-ndjson`, gets progress lines while
// partitions move, then the result (or the error) as the last line.
import Fastify, { LogController } from 'fastify'
import type { ServiceName } from '../config/types.js'
import { errorBody } from '../errors.js'
import { replicaProblem } from '../cli/replicas.js'
import { SCALABLE, type Supervisor } from './supervisor.js'

export async function startControl(sup: Supervisor): Promise<{ url: string; close(): Promise<void> }> {
  const control = Fastify({ logger: false, logController: new LogController({ disableRequestLogging: true }) })
  control.get('/healthz', async () => ({ status: 'ok' }))
  control.get('/status', async () => sup.status())
  control.post('/scale', async (req, reply) => {
    const body = req.body as { service?: unknown; replicas?: unknown } | undefined
    const service = body?.service
    if (typeof service !== 'string' || !SCALABLE.includes(service as ServiceName)) {
      return reply.status(400).send(errorBody('TPIPE_ERR_VALIDATION', `service must be one of ${SCALABLE.join(', ')}`))
    }
    const problem = replicaProblem(service, body?.replicas)
    if (problem) return reply.status(400).send(errorBody('TPIPE_ERR_VALIDATION', problem))
    const replicas = body!.replicas as number
    if (!String(req.headers.accept ?? '').includes('application/x-ndjson')) {
      try {
        return await sup.scale(service as ServiceName, replicas)
      } catch (err) {
        return reply.status(400).send(errorBody('TPIPE_ERR_VALIDATION', (err as Error).message))
      }
    }
    reply.hijack()
    reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' })
    const line = (o: unknown) => reply.raw.write(JSON.stringify(o) + '\n')
    try {
      const result = await sup.scale(service as ServiceName, replicas, (m) => line({ progress: m }))
      line({ result })
    } catch (err) {
      line(errorBody('TPIPE_ERR_VALIDATION', (err as Error).message))
    }
    reply.raw.end()
  })
  const url = await control.listen({ host: '127.0.0.1', port: 0 })
  return { url, close: () => control.close() }
}
