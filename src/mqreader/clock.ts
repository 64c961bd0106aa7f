// Time as the read side's logic sees it: injected, so lease expiry, drain deadlines and refill pacing
// are unit-tested with a fake clock instead of waiting.

/** An armed timer; only ever handed back to the clock that made it. */
export type Timer = object

export interface Clock {
  /** Monotonic milliseconds (performance.now()): deadlines and intervals. */
  now(): number
  /** Wall-clock milliseconds since the epoch (Date.now()): only for times shown to clients. */
  wall(): number
  /** background: does not keep the process alive (Node's unref). */
  setTimeout(fn: () => void, ms: number, opts?: { background?: boolean }): Timer
  clearTimeout(timer: Timer | undefined): void
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wall: () => Date.now(),
  setTimeout: (fn, ms, opts) => {
    const t = setTimeout(fn, ms)
    if (opts?.background) t.unref()
    return t
  },
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
}

/** Resolves after ms on the given clock. */
export function sleepOn(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms))
}
