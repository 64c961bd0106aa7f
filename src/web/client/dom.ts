// Tiny DOM helpers: escaping for the HTML the views build as strings (one innerHTML per table is far
// cheaper than 247 × 8 createElement calls) and a typed query.
const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]!)
}

export function $<T extends Element = HTMLElement>(root: ParentNode, selector: string): T {
  const el = root.querySelector<T>(selector)
  if (!el) throw new Error(`missing element ${selector}`)
  return el
}

export function timeText(d: Date): string {
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
}

export function dateTimeText(d: Date): string {
  return d.toLocaleString([], { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })
}

/** "12 s ago", "3 min ago", "2 h ago", "5 d ago". */
export function agoText(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.round(s / 60)} min ago`
  if (s < 86400) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86400)} d ago`
}

/** An inline SVG trend line of points (already in time order), scaled to its own min..max (or [lo, hi]). */
export function sparkline(points: readonly (readonly [number, number])[] | undefined, label: string, lo?: number, hi?: number): string {
  if (!points || points.length < 2) return `<svg class="spark" viewBox="0 0 60 16" role="img" aria-label="${esc(label)}: no trend yet"></svg>`
  const t0 = points[0]![0]
  const t1 = points[points.length - 1]![0]
  let min = lo ?? Infinity
  let max = hi ?? -Infinity
  if (lo === undefined || hi === undefined) {
    for (const p of points) {
      min = Math.min(min, p[1])
      max = Math.max(max, p[1])
    }
  }
  const span = max - min || 1
  const d = points.map((p) => `${(((p[0] - t0) / (t1 - t0 || 1)) * 60).toFixed(1)},${(15 - ((p[1] - min) / span) * 14).toFixed(1)}`).join(' ')
  return `<svg class="spark" viewBox="0 0 60 16" preserveAspectRatio="none" role="img" aria-label="${esc(label)}"><polyline points="${d}"/></svg>`
}
