// Redraw a view in place, like top(1): `tpipe gpus top --watch`. On a terminal the frame is drawn on
// the alternate screen (the shell's scrollback is left as it was), each line cut to the terminal width,
// the cursor hidden; q or Ctrl-C ends it and restores the screen. A failed refresh (apigw down) is
// shown in the frame and retried at the next tick instead of ending the watch. Without a terminal
// (a pipe) every frame is printed in turn, like `top -b`.

export interface WatchOptions {
  intervalMs: number
  out?: NodeJS.WriteStream
  input?: NodeJS.ReadStream
  /** Ends the watch (tests); otherwise q, Ctrl-C or SIGTERM. */
  signal?: AbortSignal
  /** Most frames to draw (tests, `--iterations`); unbounded when absent. */
  iterations?: number
  now?: () => Date
  /** What is shown, first on the header line ("gpus top DCGM_FI_DEV_GPU_UTIL"). */
  title?: string
}

const ESC = '\x1b['

/** The frame as it goes to a terminal: home, every line cut to width and cleared to its end, the rest cleared. */
export function frameText(header: string, body: string, columns: number, rows: number): string {
  const lines = [header, '', ...body.replace(/\n+$/, '').split('\n')]
  const shown = lines.slice(0, Math.max(1, rows - 1)).map((l) => `${cut(l, columns)}${ESC}K`)
  return `${ESC}H${shown.join('\n')}\n${ESC}J`
}

/** Cuts a line to `columns` visible characters (escape sequences of colours do not count). */
export function cut(line: string, columns: number): string {
  let visible = 0
  let out = ''
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      // eslint-disable-next-line no-control-regex -- matching terminal escape sequences is the point
      const m = /^\x1b\[[0-9;?]*[A-Za-z]/.exec(line.slice(i))
      if (m) {
        out += m[0]
        i += m[0].length - 1
        continue
      }
    }
    if (visible >= columns) break
    out += line[i]
    visible++
  }
  return out
}

export async function watch(render: () => Promise<string>, opts: WatchOptions): Promise<number> {
  const out = opts.out ?? process.stdout
  const input = opts.input ?? process.stdin
  const tty = Boolean(out.isTTY)
  const now = opts.now ?? (() => new Date())
  let stop: () => void = () => {}
  const stopped = new Promise<void>((resolve) => (stop = resolve))
  const onKey = (b: Buffer) => {
    const k = b.toString()
    if (k === 'q' || k === 'Q' || k === '\x03') stop()
  }
  const onSignal = () => stop()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  opts.signal?.addEventListener('abort', onSignal, { once: true })
  const raw = tty && input.isTTY && typeof input.setRawMode === 'function'
  if (raw) {
    input.setRawMode(true)
    input.resume()
    input.on('data', onKey)
  }
  if (tty) out.write(`${ESC}?1049h${ESC}?25l`)
  let frames = 0
  try {
    while (!opts.signal?.aborted) {
      let body: string
      try {
        body = await render()
      } catch (err) {
        body = `${(err as Error).message}\n\nretrying every ${opts.intervalMs / 1000} s…`
      }
      const header = `${opts.title ? `${opts.title} · ` : ''}every ${opts.intervalMs / 1000} s · ${now().toISOString().slice(0, 19)}Z${tty ? ' · q or Ctrl-C to quit' : ''}`
      frames++
      if (tty) out.write(frameText(header, body, out.columns || 80, out.rows || 24))
      else out.write(`${header}\n\n${body.replace(/\n+$/, '')}\n\n`)
      if (opts.iterations !== undefined && frames >= opts.iterations) break
      let timer: NodeJS.Timeout | undefined
      const tick = new Promise<'tick'>((resolve) => (timer = setTimeout(() => resolve('tick'), opts.intervalMs)))
      const r = await Promise.race([tick, stopped.then(() => 'stop' as const)])
      clearTimeout(timer)
      if (r === 'stop') break
    }
  } finally {
    if (tty) out.write(`${ESC}?25h${ESC}?1049l`)
    if (raw) {
      input.off('data', onKey)
      input.setRawMode(false)
      input.pause()
    }
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  return frames
}
