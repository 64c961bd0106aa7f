// The one rule for replica counts, for `tpipe scale` on both targets and the tpipe dev control endpoint.
export const MAX_REPLICAS = 64

/** Why `replicas` is not acceptable for `service`, or undefined when it is. */
export function replicaProblem(service: string, replicas: unknown): string | undefined {
  const min = service === 'mqreader' ? 1 : 0
  const n = typeof replicas === 'string' && /^\s*-?\d+\s*$/.test(replicas) ? Number(replicas) : replicas
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > MAX_REPLICAS) {
    return (
      `replicas must be a whole number from ${min} to ${MAX_REPLICAS}, got ${JSON.stringify(replicas)}` +
      (service === 'mqreader' ? ' (mqreader needs at least 1: someone must own the partitions)' : '')
    )
  }
  return undefined
}
