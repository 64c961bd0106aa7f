/** Postgres error codes tpipe reacts to by name (see the PostgreSQL manual, appendix A). */
export const PG_ERROR = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  notNullViolation: '23502',
  checkViolation: '23514',
  invalidTextRepresentation: '22P02',
  numericValueOutOfRange: '22003',
  datetimeFieldOverflow: '22008',
  invalidDatetimeFormat: '22007',
  invalidTimeZoneDisplacement: '22009',
  characterNotInRepertoire: '22021',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  lockNotAvailable: '55P03',
  queryCanceled: '57014',
  adminShutdown: '57P01',
  crashShutdown: '57P02',
  cannotConnectNow: '57P03',
  tooManyConnections: '53300',
  undefinedTable: '42P01',
  duplicateDatabase: '42P04',
  duplicateObject: '42710',
} as const

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'])
const UNAVAILABLE_SQLSTATES = new Set<string>([
  PG_ERROR.adminShutdown,
  PG_ERROR.crashShutdown,
  PG_ERROR.cannotConnectNow,
  PG_ERROR.tooManyConnections,
])

/**
 * True when the error means "the database is not reachable right now" (as opposed to a bad statement):
 * a refused or reset connection, a server shutting down, or a client whose connection ended.
 * These become 503 answers and readiness false, never a crash.
 */
export function isUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false
  const e = err as { code?: string; message?: string; errors?: unknown[] }
  if (e.code && (CONNECTION_CODES.has(e.code) || UNAVAILABLE_SQLSTATES.has(e.code))) return true
  if (Array.isArray(e.errors) && e.errors.some(isUnavailable)) return true // AggregateError from net
  const m = e.message ?? ''
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)|Client was closed|Query read timeout/i.test(m)
}

/**
 * True only for errors that mean "this data can never be stored": SQLSTATE class 22 (data exception:
 * bad text, out-of-range numbers, untranslatable characters) and 23 (integrity constraint violation).
 * Everything else — deadlocks, serialization failures, cancelled statements, out of memory, a lost
 * connection — is transient: the work must be retried, never dead-lettered or refused as bad input.
 */
export function isDataError(err: unknown): boolean {
  const code = pgCode(err)
  return code !== undefined && code.length === 5 && (code.startsWith('22') || code.startsWith('23'))
}

export function pgCode(err: unknown): string | undefined {
  return err && typeof err === 'object' && 'code' in err ? String((err as { code: unknown }).code) : undefined
}

/**
 * True when an error is the database's or the network's, so the same work may succeed later: the
 * database is unreachable, or it answered with a SQLSTATE that is not about the data (deadlock,
 * cancelled statement, lock timeout, out of memory…). False for a data error (class 22/23, and 54:
 * a value too deep or too big) and for any error without a SQLSTATE that is not a connection error —
 * those come from one message (a payload that cannot be serialised) and are isolated, never retried.
 */
export function isTransient(err: unknown): boolean {
  if (isUnavailable(err)) return true
  const code = pgCode(err)
  if (code === undefined || code.length !== 5) return false
  return !(code.startsWith('22') || code.startsWith('23') || code.startsWith('54'))
}
