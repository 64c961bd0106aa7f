import { randomBytes } from 'node:crypto'
import { constants, promises as fsp } from 'node:fs'
import { basename, dirname, join } from 'node:path'

/** What write-back needs to know of the CSV: who owns it, its mode, and whether it changed. */
export interface FileStat {
  mode: number
  uid: number
  gid: number
  dev: number
  ino: number
  size: number
  mtimeMs: number
  ctimeMs: number
}

export interface WriteBackHandle {
  write(data: string): Promise<unknown>
  chmod(mode: number): Promise<void>
  chown(uid: number, gid: number): Promise<void>
  close(): Promise<void>
}

/** The file operations write-back needs: a seam so a test can also simulate failures the OS would not give root. */
export interface WriteBackFs {
  open(path: string, flags: string | number, mode?: number): Promise<WriteBackHandle>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  stat(path: string): Promise<FileStat>
  /** Resolves when the caller may write the path (access(2) W_OK). */
  access(path: string, mode: number): Promise<void>
}

export const nodeFs: WriteBackFs = {
  open: (p, f, m) => fsp.open(p, f, m),
  rename: fsp.rename,
  unlink: fsp.unlink,
  stat: fsp.stat,
  access: fsp.access,
}

const CHUNK = 256 * 1024
/** Created, never opened: O_EXCL fails if the name exists, O_NOFOLLOW if it is a symlink planted there. */
const TEMP_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

/** Why a file may not be written back, or undefined when it may (checked before a pass starts). */
export async function writeBackRefusal(file: string, st: FileStat, fs: WriteBackFs = nodeFs): Promise<string | undefined> {
  // A file nobody may write (0444) is read-only on purpose, even for root: never replace it.
  if ((st.mode & 0o222) === 0) return `${file} is read-only (mode ${(st.mode & 0o7777).toString(8)})`
  try {
    await fs.access(file, constants.W_OK)
    await fs.access(dirname(file), constants.W_OK)
  } catch (err) {
    return `${file} or its directory is not writable by this user (${(err as { code?: string }).code ?? (err as Error).message})`
  }
  // The replacement must keep the owner; only root (or the owner itself) can give it that.
  const uid = process.getuid?.()
  if (uid !== undefined && uid !== 0 && uid !== st.uid) return `${file} belongs to uid ${st.uid}; the replacement would belong to uid ${uid}`
  return undefined
}

/** True when the file is still the one, unchanged, that the pass began with. */
export function sameFile(a: FileStat, b: FileStat): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs
}

export class FileChangedError extends Error {
  readonly code = 'ECHANGED'
}

/**
 * One pass of write-back: the rows (with their new timestamps) go to a temp file beside the CSV, which
 * replaces the CSV by rename when the pass ends — readers never see a half-written file, and a crash
 * leaves the original intact. The temp file has a random name and is created exclusively without
 * following symlinks (no other user can point it elsewhere); it gets the original mode and owner; and
 * the rename happens only if the CSV is still unchanged since the pass began (rows appended meanwhile
 * would otherwise be lost). Any failure throws; the caller switches write-back off.
 */
export class PassWriter {
  private buf: string[] = []
  private size = 0

  private constructor(
    private readonly fs: WriteBackFs,
    private readonly file: string,
    private readonly tmp: string,
    private readonly handle: WriteBackHandle,
    private readonly before: FileStat,
  ) {}

  /** `before`: the CSV's stat taken before the pass started reading it. */
  static async open(file: string, before: FileStat, fs: WriteBackFs = nodeFs): Promise<PassWriter> {
    const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(12).toString('hex')}.tpipe-tmp`)
    const handle = await fs.open(tmp, TEMP_FLAGS, 0o600)
    return new PassWriter(fs, file, tmp, handle, before)
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
      const uid = process.getuid?.()
      if (uid === 0 && (this.before.uid !== 0 || this.before.gid !== 0)) await this.handle.chown(this.before.uid, this.before.gid)
      await this.handle.chmod(this.before.mode & 0o7777)
      await this.handle.close()
      const now = await this.fs.stat(this.file)
      if (!sameFile(this.before, now)) throw new FileChangedError(`${this.file} changed during the pass (rows appended or the file replaced); not written back`)
      await this.fs.rename(this.tmp, this.file)
    } catch (err) {
      await this.handle.close().catch(() => {})
      await this.fs.unlink(this.tmp).catch(() => {})
      throw err
    }
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => {})
    await this.fs.unlink(this.tmp).catch(() => {})
  }
}
