// What the suites share with the runner (bench/main.ts): the suite names, options, a result row and the
// run context. Its own module so that the suites never import the runner (no import circle).
import { BENCH_SUITES } from '../src/cli/bench.js'
import type { Pool } from '../src/db/index.js'
import type { Figure } from './stats.js'

export const SUITES = BENCH_SUITES
export type SuiteName = (typeof SUITES)[number]

export interface BenchOptions {
  suites: SuiteName[]
  durationS: number
  runs: number
  outDir: string
  databaseUrl?: string
  /** Tiny sizes (a few thousand messages, one short run) to check that every suite works. */
  smoke?: boolean
}

export interface Row {
  figure: string
  value: string
  ratio?: string
  target?: string
}

export interface Context {
  pool: Pool
  databaseUrl: string
  opts: BenchOptions
  /** Figures shared between suites (ceilings feed the ratios of later ones). */
  figures: Map<string, Figure>
  log: (msg: string) => void
}
