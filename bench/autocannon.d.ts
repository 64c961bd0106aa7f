// Minimal types for the parts of autocannon the load generator uses (the package ships none).
declare module 'autocannon' {
  interface Histogram {
    average: number
    total: number
    p50: number
    p99: number
  }
  interface Result {
    requests: Histogram
    latency: Histogram
    non2xx: number
    errors: number
    timeouts: number
  }
  interface Options {
    url: string
    connections?: number
    duration?: number
    pipelining?: number
    requests?: Record<string, unknown>[]
  }
  function autocannon(opts: Options): Promise<Result>
  export default autocannon
}
