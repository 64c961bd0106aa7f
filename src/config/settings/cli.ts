/** cli settings. Filled in by the issue that builds cli; keep names as `TPIPE_*` and flags kebab-case. */
export const cli = {} as const
