// What `tpipe dev` checks before it starts anything, so a mistake fails in milliseconds with its
// cause in one line instead of as a crash loop of the service that trips over it.
import { constants } from 'node:fs'
import { access, open, stat } from 'node:fs/promises'
import { checkPort } from './http.js'

export async function checkCsv(csv: string): Promise<string | undefined> {
  try {
    const st = await stat(csv)
    if (!st.isFile()) return `--csv ${csv} is not a file`
    await access(csv, constants.R_OK)
    const fh = await open(csv, 'r')
    try {
      const { bytesRead } = await fh.read(Buffer.alloc(1), 0, 1, 0)
      if (bytesRead === 0) return `--csv ${csv} is empty (a DCGM CSV starts with its header row)`
    } finally {
      await fh.close()
    }
    return undefined
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return `--csv ${csv} does not exist (ENOENT)`
    if (code === 'EACCES' || code === 'EPERM') return `--csv ${csv} is not readable by this user (${code})`
    return `--csv ${csv}: ${(err as Error).message}`
  }
}

/** The first problem found, or undefined when everything checkable is fine. */
export async function preflight(o: { csv: string; streamers: number; portBase: number }): Promise<string | undefined> {
  if (o.streamers > 0) {
    const csv = await checkCsv(o.csv)
    if (csv) return csv
  }
  if (o.portBase > 0) {
    const port = await checkPort(o.portBase)
    if (port) return port
  }
  return undefined
}
