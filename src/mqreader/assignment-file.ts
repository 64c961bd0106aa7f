// The assignment-file source: watches the file's DIRECTORY (a mounted ConfigMap is updated by the
// kubelet swapping a `..data` symlink, which a watch on the file itself misses) and re-reads it
// periodically as a backstop. It only parses and hands over; the owner decides (generations, moves).
import { watch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { TpipeError } from '../errors.js'
import { parseAssignmentDoc, readerAssignment, type AssignmentSink } from '../protocol/assignment.js'

export interface FileWatch {
  /** Reads the file now (also what the watcher and the timer call). */
  reload(): Promise<void>
  close(): void
}

export function watchAssignmentFile(path: string, readerName: string, sink: AssignmentSink, opts: { pollMs: number; log: Logger }): FileWatch {
  let lastText: string | undefined
  let watcher: FSWatcher | undefined
  let debounce: NodeJS.Timeout | undefined
  let closed = false
  let reading: Promise<void> | undefined

  const readOnce = async (): Promise<void> => {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      opts.log.warn({ path, err: (err as Error).message }, 'assignment file unreadable; keeping the assignment in force')
      return
    }
    if (closed || text === lastText) return
    try {
      const a = readerAssignment(parseAssignmentDoc(text), readerName)
      sink.applyAssignment(a)
      lastText = text
      opts.log.info({ path, generation: a.generation, partitions: a.partitions === null ? 'no entry' : a.partitions.length }, 'assignment file applied')
    } catch (err) {
      if (err instanceof TpipeError && err.code === 'TPIPE_ERR_STALE_GENERATION') {
        lastText = text
        opts.log.warn({ path }, 'assignment file holds an older generation than the one in force; ignored')
        return
      }
      if (err instanceof TpipeError && err.code === 'TPIPE_ERR_SHUTTING_DOWN') return
      opts.log.warn({ path, err: (err as Error).message }, 'assignment file invalid; keeping the assignment in force')
    }
  }
  const reload = (): Promise<void> => {
    // One read at a time; a change seen during a read triggers another right after it.
    reading = (reading ?? Promise.resolve()).then(readOnce)
    return reading
  }

  try {
    watcher = watch(dirname(path), () => {
      clearTimeout(debounce)
      debounce = setTimeout(() => void reload(), 50)
    })
    watcher.on('error', (err) => opts.log.warn({ err: err.message }, 'assignment directory watch failed; relying on the periodic re-read'))
  } catch (err) {
    opts.log.warn({ err: (err as Error).message }, 'cannot watch the assignment directory; relying on the periodic re-read')
  }
  const timer = setInterval(() => void reload(), opts.pollMs)
  timer.unref()
  void reload()

  return {
    reload,
    close() {
      closed = true
      clearInterval(timer)
      clearTimeout(debounce)
      watcher?.close()
    },
  }
}
