import { closeSync, openSync, writeSync } from 'node:fs'

/**
 * The record of acknowledged messages: every msg_uuid mqwriter answered 201 for, one per line.
 * Lines are only ever added after a 201; they are buffered and written at least every flushMs and,
 * synchronously, on close and on process exit, so an answered publish is on disk before a normal exit.
 */
export class AckLog {
  private fd: number | undefined
  private pending: string[] = []
  private readonly timer: NodeJS.Timeout
  private readonly onExit = () => this.flush()

  constructor(
    readonly path: string,
    flushMs = 200,
  ) {
    this.fd = openSync(path, 'a')
    this.timer = setInterval(() => this.flush(), flushMs)
    this.timer.unref()
    process.on('exit', this.onExit)
  }

  append(msgUuid: string): void {
    if (this.fd !== undefined) this.pending.push(msgUuid)
  }

  flush(): void {
    if (this.fd === undefined || this.pending.length === 0) return
    const text = this.pending.join('\n') + '\n'
    this.pending = []
    try {
      writeSync(this.fd, text)
    } catch (err) {
      // A full or failing disk must not kill the streamer (this runs in a timer and on exit): the log
      // is switched off, loudly, and streaming goes on.
      process.stderr.write(`ack log ${this.path}: write failed (${(err as Error).message}); ack log switched off\n`)
      try {
        closeSync(this.fd)
      } catch {
        /* already broken */
      }
      this.fd = undefined
    }
  }

  close(): void {
    clearInterval(this.timer)
    this.flush()
    process.off('exit', this.onExit)
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}
