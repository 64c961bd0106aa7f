// AnswerBuffers over real sockets: a buffer is reused only after its response finished, so a client that
// reads slowly gets its whole answer even while other answers are written from the pool; the bytes are the
// string's UTF-8; small, gzip and oversized answers go out as strings.
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { gunzipSync } from 'node:zlib'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AnswerBuffers, MIN_POOLED_CHARS } from './answer.js'
import { compressJson } from './compress.js'

// An answer far larger than loopback's socket buffers (a few MB), so a client that does not read leaves
// most of it in the server's hands; multibyte characters, so bytes ≠ characters.
const BIG = 24 * 1024 * 1024
function text(id: number, chars: number): string {
  const unit = `{"id":${id},"s":"é 🎛️ ${'x'.repeat(40)}"},`
  return `[${unit.repeat(Math.floor(chars / unit.length))}{}]`
}

describe('AnswerBuffers', () => {
  const answers = new AnswerBuffers(64 * 1024 * 1024, 1)
  let app: FastifyInstance
  let port: number

  beforeAll(async () => {
    app = Fastify()
    compressJson(app, '/')
    app.get('/big/:id', async (request, reply) => answers.send(reply.type('application/json'), text(Number((request.params as { id: string }).id), BIG)))
    app.get('/small', async (_request, reply) => answers.send(reply.type('application/json'), text(0, MIN_POOLED_CHARS - 100)))
    app.get('/medium', async (_request, reply) => answers.send(reply.type('application/json'), text(7, 100_000)))
    await app.listen({ port: 0, host: '127.0.0.1' })
    port = (app.server.address() as { port: number }).port
  })
  afterAll(async () => {
    await app.close()
  })

  /** Sends a GET on a raw socket; the caller decides when to read. */
  async function request(path: string): Promise<Socket> {
    const s = connect(port, '127.0.0.1')
    await once(s, 'connect')
    s.pause()
    s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    return s
  }
  async function body(s: Socket): Promise<Buffer> {
    const chunks: Buffer[] = []
    s.on('data', (c: Buffer) => chunks.push(c))
    s.resume()
    await once(s, 'end')
    const all = Buffer.concat(chunks)
    return all.subarray(all.indexOf('\r\n\r\n') + 4)
  }

  it('gives a slow reader its whole answer while the pool serves others', async () => {
    const slow = await request('/big/1')
    // Let the server write what the kernel takes and block on the rest.
    await new Promise((r) => setTimeout(r, 300))
    // Two more answers meanwhile: with one buffer kept, a buffer handed back too early would be overwritten here.
    for (const id of [2, 3]) {
      const fast = await request(`/big/${id}`)
      expect((await body(fast)).toString('utf8') === text(id, BIG)).toBe(true)
    }
    const got = (await body(slow)).toString('utf8')
    expect(got.length).toBe(text(1, BIG).length)
    expect(got === text(1, BIG)).toBe(true)
    expect(answers.pooled).toBe(1)
  })

  it('sends the same bytes as a string would, with the right content-length; small and gzip answers as strings', async () => {
    const medium = await app.inject('/medium')
    expect(medium.body).toBe(text(7, 100_000))
    expect(Number(medium.headers['content-length'])).toBe(Buffer.byteLength(text(7, 100_000)))
    expect((await app.inject('/small')).body).toBe(text(0, MIN_POOLED_CHARS - 100))
    const gz = await app.inject({ url: '/medium', headers: { 'accept-encoding': 'gzip' } })
    expect(gz.headers['content-encoding']).toBe('gzip')
    expect(gunzipSync(gz.rawPayload).toString('utf8')).toBe(text(7, 100_000))
  })

  it('sends parts as the bytes of their joined string, multibyte characters at the seams; small, gzip, oversized and split-pair parts joined', async () => {
    const a = Fastify()
    compressJson(a, '/')
    // Every seam between two multibyte characters (2, 3 and 4 bytes of UTF-8).
    const parts = ['{"rows":["é', `🎛️${text(5, 60_000)}€`, '€', '', '𝄞"],"next":"é"}']
    const pool = new AnswerBuffers(1024 * 1024, 2)
    const tiny = new AnswerBuffers(70_000, 1)
    a.get('/parts', async (_request, reply) => pool.send(reply.type('application/json'), parts))
    a.get('/small', async (_request, reply) => pool.send(reply.type('application/json'), ['["', 'é"]']))
    // 40,000 characters of 2 bytes: the characters fit 70,000 bytes, their UTF-8 does not.
    a.get('/over', async (_request, reply) => tiny.send(reply.type('application/json'), ['["', 'é'.repeat(40_000), '"]']))
    // A surrogate pair split across two parts: encoded apart, each half would become U+FFFD.
    const pair = ['["' + 'x'.repeat(MIN_POOLED_CHARS) + '\uD83C', '\uDF9B"]']
    a.get('/pair', async (_request, reply) => pool.send(reply.type('application/json'), pair))
    const joined = parts.join('')
    const r = await a.inject('/parts')
    expect(r.body).toBe(joined)
    expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(joined))
    expect(pool.pooled).toBe(1) // it went out of a pooled buffer, which came back
    expect((await a.inject('/small')).body).toBe('["é"]')
    const over = await a.inject('/over')
    expect(over.body).toBe(`["${'é'.repeat(40_000)}"]`)
    expect(tiny.pooled).toBe(1)
    const split = await a.inject('/pair')
    expect(split.rawPayload.equals(Buffer.from(pair.join(''), 'utf8'))).toBe(true)
    expect(split.body.endsWith('🎛"]')).toBe(true)
    const gz = await a.inject({ url: '/parts', headers: { 'accept-encoding': 'gzip' } })
    expect(gz.headers['content-encoding']).toBe('gzip')
    expect(gunzipSync(gz.rawPayload).toString('utf8')).toBe(joined)
    expect(pool.pooled).toBe(1)
    await a.close()
  })

  it('sends an answer whose UTF-8 does not fit the buffer as a string', async () => {
    const tiny = new AnswerBuffers(MIN_POOLED_CHARS + 10, 1)
    const a = Fastify()
    const t = 'é'.repeat(MIN_POOLED_CHARS) // 2 bytes a character: twice the buffer
    a.get('/', async (_request, reply) => tiny.send(reply.type('application/json'), t))
    const r = await a.inject('/')
    expect(r.body).toBe(t)
    expect(tiny.pooled).toBe(1)
    await a.close()
  })
})
