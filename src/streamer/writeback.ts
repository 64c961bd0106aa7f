import { promises as fsp } from 'node:fs'
import { basename, dirname, join } from 'node:path'

/** The file operations write-back needs: a seam so a test can also simulate failures the OS would not give root. */
export interface WriteBackFs {
  open(path: string, flags: string): Promise<{ write(data: string): Promise<unknown>; close(): Promise<void> }>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  stat(path: string): Promise<{ mode: number }>
  chmod(path: string, mode: number): Promise<void>
}

export const nodeFs: WriteBackFs = {
  open: (p, f) => fsp.open(p, f),
  rename: fsp.rename,
  unlink: fsp.unlink,
  stat: fsp.stat,
  chmod: fsp.chmod,
}

const CHUNK = 256 * 1024

/**
 * One pass of write-back: the rows (with their new timestamps) go to a temp file beside the CSV, which
 * replaces the CSV by rename when the pass ends — readers never see a half-written file, and a crash
 * leaves the original intact. Any failure throws; the caller switches write-back off.
 */
export class PassWriter {
  private buf: string[] = []
  private size = 0

  private constructor(
    private readonly fs: WriteBackFs,
    private readonly file: string,
    private readonly tmp: string,
    private readonly handle: Awaited<ReturnType<WriteBackFs['open']>>,
  ) {}

  static async open(file: string, fs: WriteBackFs = nodeFs): Promise<PassWriter> {
    const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tpipe-tmp`)
    const handle = await fs.open(tmp, 'w')
    return new PassWriter(fs, file, tmp, handle)
  }

  async write(text: string): Promise<void> {
    this.buf.push(text)
    this.size += text.length
    if (this.size >= CHUNK) await this.flush()
  }

  private async flush(): Promise<void> {
    if (this.buf.length === 0) return
    const text = this.buf.join('')
    this.buf = []
    this.size = 0
    await this.handle.write(text)
  }

  async commit(): Promise<void> {
    try {
      await this.flush()
      await this.handle.close()
      const { mode } = await this.fs.stat(this.file)
      await this.fs.chmod(this.tmp, mode & 0o7777)
      await this.fs.rename(this.tmp, this.file)
    } catch (err) {
      await this.fs.unlink(this.tmp).catch(() => {})
      throw err
    }
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => {})
    await this.fs.unlink(this.tmp).catch(() => {})
  }
}
