// The one JSON body parser of every tpipe server. JSON.parse itself never overflows (V8 parses
// iteratively) but everything after it does: JSON.stringify, jsonb, a recursive walk. So a body is
// refused here, with its own 400, when it is nested deeper than the limit, holds a number JSON.parse
// turned into ±Infinity (`1e400`) or a `__proto__` key — before it can reach a batch or a consumer.

export interface JsonCheckOptions {
  /** Deepest nesting of objects/arrays accepted (the top level value is depth 1). */
  maxDepth: number
}

/** Why a parsed value is refused, naming where ("body/payload/a/0") — or undefined when it is fine. */
export function checkJsonValue(value: unknown, opts: JsonCheckOptions, root = 'body'): string | undefined {
  // Iterative walk (explicit stack): a value nested 100,000 levels must not overflow this check either.
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: root, depth: 1 }]
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return `${path} is a number out of range (it must be finite, e.g. not 1e400)`
      continue
    }
    if (v === null || typeof v !== 'object') continue
    if (depth > opts.maxDepth) return `${path} is nested deeper than ${opts.maxDepth} levels (the limit, TPIPE_JSON_MAX_DEPTH)`
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: `${path}/${i}`, depth: depth + 1 })
    } else {
      for (const k of Object.keys(v)) {
        if (k === '__proto__') return `${path} has the key "__proto__", which is not allowed`
        stack.push({ v: (v as Record<string, unknown>)[k], path: `${path}/${k}`, depth: depth + 1 })
      }
    }
  }
  return undefined
}

export class JsonBodyError extends Error {
  constructor(
    message: string,
    readonly kind: 'syntax' | 'content',
  ) {
    super(message)
    this.name = 'JsonBodyError'
  }
}

/** Parses a request body: SyntaxError → 'syntax', a refused value → 'content'. */
export function parseJsonBody(text: string, opts: JsonCheckOptions): unknown {
  if (text.length === 0) throw new JsonBodyError('the request body is empty; send a JSON value', 'syntax')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new JsonBodyError(`the request body is not valid JSON: ${(err as Error).message}`, 'syntax')
  }
  const bad = checkJsonValue(value, opts)
  if (bad) throw new JsonBodyError(bad, 'content')
  return value
}
