/** controller settings. Filled in by the issue that builds controller; keep names as `TPIPE_*` and flags kebab-case. */
export const controller = {} as const
