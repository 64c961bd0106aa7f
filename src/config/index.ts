// Configuration: one schema (schema.ts, settings/*) for every setting; load.ts resolves
// flag → TPIPE_* env → default once per process and freezes the result. Must not read env elsewhere.
export * from './types.js'
export * from './schema.js'
export * from './load.js'
