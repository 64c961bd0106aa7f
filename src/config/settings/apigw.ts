/** apigw settings. Filled in by the issue that builds apigw; keep names as `TPIPE_*` and flags kebab-case. */
export const apigw = {} as const
