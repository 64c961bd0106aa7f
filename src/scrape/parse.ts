// The Prometheus text exposition format (0.0.4) and OpenMetrics 1.0 text, parsed into samples. Pure: no I/O.
//
// Our own scanner rather than an npm parser: the one candidate (parse-prometheus-text-format) is a port
// of prom2json that knows neither OpenMetrics (`# EOF`, seconds timestamps, exemplars) nor per-line
// errors, and hands values back as strings. What this keeps from the Go parser (expfmt/textparse):
// HELP/TYPE/UNIT lines, escapes in label values (\\ \" \n) and in HELP (\\ \n), optional trailing comma
// in label sets, NaN/±Inf values, integer millisecond timestamps (text) or float second timestamps
// (OpenMetrics), exemplars after ` # ` (OpenMetrics, ignored). What it does differently on purpose: a bad
// line is counted and skipped instead of failing the whole scrape — one bad series must not cost every
// GPU of a node its sample.

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
  /** Milliseconds since the epoch, when the exposition carried a timestamp. */
  timestampMs?: number
}

export interface ParseError {
  line: number
  message: string
}

export interface ParseResult {
  /** Samples with finite values. */
  samples: Sample[]
  /** Samples whose value was NaN, +Inf or -Inf: counted, not returned (telemetry stores finite values only). */
  nonFinite: number
  /** OpenMetrics `_created` samples of counters/histograms/summaries: skipped, they are start times. */
  created: number
  /** Lines that could not be parsed (at most MAX_ERRORS kept; errorCount has them all). */
  errors: ParseError[]
  errorCount: number
  /** `# TYPE` per metric family. */
  types: Record<string, string>
  /** `# HELP` per metric family (unescaped). */
  help: Record<string, string>
  /** OpenMetrics: whether the `# EOF` terminator was seen (a truncated body lacks it). */
  eof: boolean
}

export interface ParseOptions {
  /** OpenMetrics rules (seconds timestamps, `# EOF`); by default detected from a `# EOF` line. */
  openMetrics?: boolean
}

const MAX_ERRORS = 20
const NAME_START = /[A-Za-z_:]/
const NAME_CHAR = /[A-Za-z0-9_:]/
const LABEL_START = /[A-Za-z_]/
const LABEL_CHAR = /[A-Za-z0-9_]/
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

/** Go's strconv.ParseFloat forms the exporters write, including NaN and ±Inf in any case. */
export function parseValue(s: string): number | undefined {
  if (FLOAT.test(s)) return Number(s)
  switch (s.toLowerCase()) {
    case 'nan':
      return NaN
    case '+inf':
    case 'inf':
    case '+infinity':
    case 'infinity':
      return Infinity
    case '-inf':
    case '-infinity':
      return -Infinity
  }
  // Hex floats and the like: Number() accepts more than Go does, so refuse anything else.
  return undefined
}

/** The content type says which format a body is in; `# EOF` also marks OpenMetrics. */
export function isOpenMetricsContentType(contentType: string | undefined): boolean {
  return /application\/openmetrics-text/i.test(contentType ?? '')
}

class LineError extends Error {}

export function parseExposition(text: string, opts: ParseOptions = {}): ParseResult {
  const result: ParseResult = { samples: [], nonFinite: 0, created: 0, errors: [], errorCount: 0, types: {}, help: {}, eof: false }
  const openMetrics = opts.openMetrics ?? /^# EOF\s*$/m.test(text)
  const fail = (line: number, message: string) => {
    result.errorCount++
    if (result.errors.length < MAX_ERRORS) result.errors.push({ line, message })
  }
  let lineNo = 0
  let start = 0
  while (start <= text.length) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    let line = text.slice(start, end)
    start = end + 1
    lineNo++
    if (line.endsWith('\r')) line = line.slice(0, -1)
    if (result.eof) {
      if (line.trim() !== '') fail(lineNo, 'content after # EOF')
      continue
    }
    const trimmed = line.trim()
    if (trimmed === '') continue
    try {
      if (trimmed.startsWith('#')) comment(trimmed, result)
      else sample(line, openMetrics, result)
    } catch (err) {
      if (!(err instanceof LineError)) throw err
      fail(lineNo, err.message)
    }
    if (start > text.length) break
  }
  return result
}

function comment(line: string, result: ParseResult): void {
  if (line === '# EOF') {
    result.eof = true
    return
  }
  const m = /^#\s+(HELP|TYPE|UNIT)\s+([A-Za-z_:][A-Za-z0-9_:]*)(?:\s+(.*))?$/.exec(line)
  if (!m) return // any other comment
  const [, kw, name, rest = ''] = m as unknown as [string, string, string, string | undefined]
  if (kw === 'TYPE') {
    const t = rest.trim().toLowerCase()
    if (!/^(counter|gauge|histogram|summary|untyped|unknown|gaugehistogram|stateset|info)$/.test(t)) throw new LineError(`unknown metric type ${JSON.stringify(rest)}`)
    result.types[name] = t
  } else if (kw === 'HELP') {
    result.help[name] = rest.replace(/\\(\\|n|")/g, (_, c: string) => (c === 'n' ? '\n' : c))
  }
}

function sample(line: string, openMetrics: boolean, result: ParseResult): void {
  let i = 0
  const n = line.length
  const skipSpace = () => {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++
  }
  skipSpace()
  if (!NAME_START.test(line[i] ?? '')) throw new LineError(`expected a metric name at column ${i + 1}`)
  const nameStart = i
  while (i < n && NAME_CHAR.test(line[i]!)) i++
  const name = line.slice(nameStart, i)
  const labels: Record<string, string> = {}
  skipSpace()
  if (line[i] === '{') {
    i++
    for (;;) {
      skipSpace()
      if (line[i] === '}') {
        i++
        break
      }
      if (!LABEL_START.test(line[i] ?? '')) throw new LineError(`expected a label name or } at column ${i + 1}`)
      const ls = i
      while (i < n && LABEL_CHAR.test(line[i]!)) i++
      const label = line.slice(ls, i)
      skipSpace()
      if (line[i] !== '=') throw new LineError(`expected = after label ${label}`)
      i++
      skipSpace()
      if (line[i] !== '"') throw new LineError(`value of label ${label} must be quoted`)
      i++
      let value = ''
      for (;;) {
        if (i >= n) throw new LineError(`unterminated value of label ${label}`)
        const c = line[i]!
        if (c === '\\') {
          const e = line[i + 1]
          if (e === 'n') value += '\n'
          else if (e === '\\' || e === '"') value += e
          else throw new LineError(`invalid escape \\${e ?? ''} in label ${label}`)
          i += 2
          continue
        }
        if (c === '"') {
          i++
          break
        }
        value += c
        i++
      }
      if (Object.hasOwn(labels, label)) throw new LineError(`label ${label} repeated`)
      labels[label] = value
      skipSpace()
      if (line[i] === ',') {
        i++
        continue
      }
      if (line[i] === '}') {
        i++
        break
      }
      throw new LineError(`expected , or } after label ${label}`)
    }
  }
  skipSpace()
  const vs = i
  while (i < n && line[i] !== ' ' && line[i] !== '\t') i++
  const rawValue = line.slice(vs, i)
  if (rawValue === '') throw new LineError(`no value for ${name}`)
  const value = parseValue(rawValue)
  if (value === undefined) throw new LineError(`bad value ${JSON.stringify(rawValue)} for ${name}`)
  skipSpace()
  let timestampMs: number | undefined
  if (i < n && line[i] !== '#') {
    const ts = i
    while (i < n && line[i] !== ' ' && line[i] !== '\t') i++
    const rawTs = line.slice(ts, i)
    if (openMetrics) {
      const s = parseValue(rawTs)
      if (s === undefined || !Number.isFinite(s)) throw new LineError(`bad timestamp ${JSON.stringify(rawTs)}`)
      timestampMs = Math.round(s * 1000)
    } else {
      if (!/^-?\d+$/.test(rawTs)) throw new LineError(`bad timestamp ${JSON.stringify(rawTs)} (milliseconds expected)`)
      timestampMs = Number(rawTs)
    }
    skipSpace()
  }
  // OpenMetrics exemplar (` # {trace_id="…"} 1 [ts]`): about a trace, not the series; ignored.
  if (i < n && !(openMetrics && line[i] === '#')) throw new LineError(`unexpected text after the value of ${name}`)
  if (!Number.isFinite(value)) {
    result.nonFinite++
    return
  }
  // OpenMetrics `<family>_created`: when a counter started, not a measurement.
  if (openMetrics && name.endsWith('_created') && /^(counter|histogram|summary|gaugehistogram)$/.test(result.types[name.slice(0, -8)] ?? '')) {
    result.created++
    return
  }
  const s: Sample = { name, labels, value }
  if (timestampMs !== undefined) s.timestampMs = timestampMs
  result.samples.push(s)
}
