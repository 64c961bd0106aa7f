// Partitions: pure functions shared by every service and by both planners (tpipe dev's supervisor and
// the Kubernetes partition-controller). Owns the key → partition hash, the range syntax and the plan.
// Must not touch I/O: everything here is deterministic and unit-tested.
export * from './hash.js'
export * from './ranges.js'
export * from './plan.js'
