/** collector settings. Filled in by the issue that builds collector; keep names as `TPIPE_*` and flags kebab-case. */
export const collector = {} as const
