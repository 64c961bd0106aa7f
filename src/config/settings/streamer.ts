/** streamer settings. Filled in by the issue that builds streamer; keep names as `TPIPE_*` and flags kebab-case. */
export const streamer = {} as const
