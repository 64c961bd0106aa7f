// Small async helpers shared by services, the CLI and tests: one sleep, one polling wait.
// Pure timing; no I/O of its own.

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })

export interface WaitOptions {
  /** Give up after this long (default 20 s). */
  timeoutMs?: number
  /** Pause between checks (default 25 ms). */
  intervalMs?: number
  /** What is awaited, for the timeout message. */
  what?: string
  /**
   * An error thrown by `check` ends the wait at once (a supervisor's child that died while starting
   * must not be waited for until the timeout). By default an error counts as "not yet" (a server
   * still starting refuses connections) and the last one is named in the timeout message.
   */
  failFast?: boolean
}

/** Polls `check` until it returns a truthy value and returns that value; throws after `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, { timeoutMs = 20_000, intervalMs = 25, what = 'condition', failFast = false }: WaitOptions = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v) return v as NonNullable<T>
    } catch (err) {
      if (failFast) throw err
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
