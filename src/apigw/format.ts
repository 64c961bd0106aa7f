// Output formats of `tpipe gpus …`: an aligned table for people, CSV and JSON for tools. Pure.

export type Column<T> = [header: string, value: (row: T) => unknown]

const text = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v))

export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((r) => columns.map(([, f]) => text(f(r))))
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ')
  return [line(columns.map(([h]) => h.toUpperCase())), ...cells.map(line)].join('\n')
}

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v
}

export function csvHeader<T>(columns: readonly Column<T>[]): string {
  return columns.map(([h]) => csvField(h)).join(',')
}

export function csvRows<T>(rows: readonly T[], columns: readonly Column<T>[]): string[] {
  return rows.map((r) => columns.map(([, f]) => csvField(text(f(r)))).join(','))
}
