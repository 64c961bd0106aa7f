// The fastify hello-world ceiling: the same framework, JSON body parsing and keep-alive as mqwriter,
// with no work behind the route. Run as its own process by the ceilings suite.
import Fastify, { LogController } from 'fastify'

const app = Fastify({ logger: false, logController: new LogController({ disableRequestLogging: true }) })
app.post('/v1/publish', async (_req, reply) => reply.status(201).send({ ok: true }))
const port = Number(process.argv[2] ?? 0)
const address = await app.listen({ host: '127.0.0.1', port })
process.stdout.write(JSON.stringify({ address }) + '\n')
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
