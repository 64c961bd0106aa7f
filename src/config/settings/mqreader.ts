/** mqreader settings. Filled in by the issue that builds mqreader; keep names as `TPIPE_*` and flags kebab-case. */
export const mqreader = {} as const
