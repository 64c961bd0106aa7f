import { int } from '../types.js'

/** apigw: the read API over the telemetry table. Port, database and pool come from common.ts. */
export const apigw = {
  apigwStatementTimeoutMs: int({
    flag: 'statement-timeout-ms',
    env: 'TPIPE_APIGW_STATEMENT_TIMEOUT_MS',
    description: 'Longest an API query may run before PostgreSQL cancels it (the request then gets 503).',
    scopes: ['apigw'],
    default: 10000,
    min: 0,
  }),
} as const
