// Statistics helpers for the benchmark suite: every figure is the median of its runs, with min–max.

export interface Figure {
  median: number
  min: number
  max: number
  runs: number[]
}

export function figure(runs: number[]): Figure {
  const s = [...runs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
  return { median, min: s[0] ?? 0, max: s.at(-1) ?? 0, runs }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

export function fmtFigure(f: Figure, digits = 0, unit = ''): string {
  return `${fmt(f.median, digits)}${unit} (${fmt(f.min, digits)}–${fmt(f.max, digits)})`
}

export function ratio(a: number, b: number): string {
  return b > 0 ? `${((a / b) * 100).toFixed(0)}%` : 'n/a'
}
