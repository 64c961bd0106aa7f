// Text bounded for PostgreSQL: a cut never leaves half of a surrogate pair (a lone surrogate is as
// unstorable in text and jsonb as NUL).

/** No lone UTF-16 surrogate (the driver's UTF-8 encoding would store one as U+FFFD). Node 20 has it; ES2023's types do not. */
export function isWellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed()
}

/** At most `max` UTF-16 units, never ending between the two halves of a surrogate pair. */
export function clipCodePoints(s: string, max: number): string {
  if (s.length <= max) return s
  const hi = s.charCodeAt(max - 1)
  return s.slice(0, hi >= 0xd800 && hi <= 0xdbff ? max - 1 : max)
}

/** Diagnostic text (an error message) made storable: clipped on code points, lone surrogates as U+FFFD. */
export function storableMessage(s: string, max: number): string {
  return (clipCodePoints(s, max) as string & { toWellFormed(): string }).toWellFormed()
}
