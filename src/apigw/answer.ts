// Large JSON answers sent from reusable buffers. A ~100–150 KB answer sent as a string is encoded into a
// fresh allocation every time, and on this machine writing a fresh 150 KB string or Buffer to a loopback
// socket took 0.44–0.50 ms of CPU against 0.19 ms for a reused Buffer (the fresh pages fault in); in the
// apigw, interleaved at 4 connections against the build before, the raw page went ×1.14 and the fleet
// listing ×1.02 req/s (BENCHMARKS.md). A buffer goes back to the pool only when its response has finished — node has handed
// every byte to the kernel — never while a slow client still has bytes of it to receive; a response that
// is aborted keeps its buffer, which is then garbage like any other.
import type { FastifyReply } from 'fastify'
import { wantsGzip } from './compress.js'

/** Below this, a string answer costs too little to be worth a pooled buffer. */
export const MIN_POOLED_CHARS = 16 * 1024

export class AnswerBuffers {
  private readonly free: Buffer[] = []

  /**
   * @param bufferBytes size of each buffer: answers whose UTF-8 does not fit are sent as strings
   * @param keep buffers kept for reuse (the memory held between answers is at most keep × bufferBytes)
   */
  constructor(
    readonly bufferBytes = 512 * 1024,
    readonly keep = 8,
  ) {}

  /** Buffers waiting for reuse (tests). */
  get pooled(): number {
    return this.free.length
  }

  /**
   * Sends `text` (its content type already set) from a pooled buffer, or as a string when that does not pay
   * or cannot be. Given as parts (an answer's head, the rows PostgreSQL made, its tail), they are written one
   * after the other: the ~100 KB rows text is not first copied into a joined string.
   */
  send(reply: FastifyReply, text: string | readonly string[]): FastifyReply {
    const parts = typeof text === 'string' ? [text] : text
    let chars = 0
    let splitPair = false
    for (const part of parts) {
      chars += part.length
      // A part ending in a high surrogate may pair with the next part's first unit: encoded apart, each half
      // would become U+FFFD. (The API's parts never do: their seams are ASCII.) Such parts go joined.
      const last = part.charCodeAt(part.length - 1)
      if (last >= 0xd800 && last <= 0xdbff) splitPair = true
    }
    // gzip (compress.ts) compresses string payloads: leave those to it. Every UTF-16 unit needs at least a byte.
    if (chars < MIN_POOLED_CHARS || chars > this.bufferBytes || splitPair || wantsGzip(reply.request)) return reply.send(joined(parts))
    const buf = this.free.pop() ?? Buffer.allocUnsafe(this.bufferBytes)
    let n = 0
    for (const part of parts) {
      n += buf.write(part, n, 'utf8')
      // write() stops before a character that does not fit whole (≤ 4 bytes): within 4 bytes of the end, the
      // text may have been cut.
      if (n > buf.length - 4) {
        this.release(buf)
        return reply.send(joined(parts))
      }
    }
    reply.raw.once('finish', () => this.release(buf))
    return reply.send(buf.subarray(0, n))
  }

  private release(buf: Buffer): void {
    if (this.free.length < this.keep) this.free.push(buf)
  }
}

const joined = (parts: readonly string[]) => (parts.length === 1 ? parts[0]! : parts.join(''))
