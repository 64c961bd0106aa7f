// The README's configuration table, generated from the one schema (a unit test keeps README in step).
import { allSettings } from './load.js'

function cell(v: unknown): string {
  if (v === undefined) return '–'
  const s = Array.isArray(v) ? v.join(',') : String(v)
  return s === '' ? '""' : `\`${s.replace(/\|/g, '\\|')}\``
}

export function settingsTable(): string {
  const rows = allSettings().map(([, s]) => {
    const scopes = s.scopes === 'all' ? 'all' : s.scopes.join(', ')
    const env = [s.env, ...(s.envAliases ?? [])].map((e) => `\`${e}\``).join(' or ')
    const def = s.flag === 'home' ? '`~/.tpipe`' : s.flag === 'reader-name' || s.flag === 'identity' ? 'hostname' : s.defaultText ? `\`${s.defaultText}\`` : cell(s.default)
    return `| ${env} | \`--${s.flag}\` | ${def} | ${scopes} | ${s.description.replace(/\|/g, '\\|')} |`
  })
  return ['| env | flag | default | used by | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n')
}
