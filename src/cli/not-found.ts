// oclif `command_not_found` hook: `tpipe gpu list` → "did you mean `tpipe gpus list`?", exit 2.
import type { Hook } from '@oclif/core'

/** Edit distance (insert, delete, substitute: 1 each). */
export function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!
    d[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return d[b.length]!
}

/** The closest command ids (words joined by spaces) to what was typed, best first. */
export function suggest(typed: string, ids: readonly string[]): string[] {
  const t = typed.replace(/:/g, ' ')
  const scored = ids.map((id) => {
    const words = id.replace(/:/g, ' ')
    // Compare with as many words as were typed, so `gpu list --x` still finds `gpus list`.
    const n = words.split(' ').length
    const prefix = t.split(' ').slice(0, n).join(' ')
    return { id: words, d: distance(prefix, words) }
  })
  const best = Math.min(...scored.map((s) => s.d))
  return best <= Math.max(2, Math.floor(t.length / 4)) ? scored.filter((s) => s.d === best).map((s) => s.id) : []
}

const hook: Hook<'command_not_found'> = async function (opts) {
  const typed = [opts.id, ...(opts.argv ?? []).filter((a) => !a.startsWith('-'))].join(' ')
  const ids = opts.config.commands.filter((c) => !c.hidden).map((c) => c.id)
  const found = suggest(typed, ids)
  const hint = found.length ? ` Did you mean ${found.map((f) => `\`${opts.config.bin} ${f}\``).join(' or ')}?` : ''
  process.stderr.write(`Error: ${opts.config.bin} has no command "${opts.id.replace(/:/g, ' ')}".${hint} \`${opts.config.bin} --help\` lists every command.\n`)
  process.exit(2)
}

export default hook
