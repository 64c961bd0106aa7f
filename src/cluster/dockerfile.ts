// The image build of `tpipe up`, checked before it runs: which Dockerfile stages a build needs (with its
// --build-arg values), which files those stages COPY from the build context, and whether each one is
// there and let through by .dockerignore. From a clone the image compiles the sources; from an installed
// npm package (no sources, no package-lock.json: npm never packs it) it takes the package's prebuilt dist/
// and the lock file copy the package ships (written at `npm pack`).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative, sep } from 'node:path'

/** The lock file copy an npm package ships (npm pack leaves out package-lock.json itself). */
export const IMAGE_LOCKFILE = 'image-package-lock.json'

export type ImageBuildMode = 'source' | 'prebuilt'

/** "source" in a clone (src/ and tsconfig.json present), else "prebuilt" (an installed npm package). */
export function imageBuildMode(root: string): ImageBuildMode {
  return existsSync(join(root, 'src')) && existsSync(join(root, 'tsconfig.json')) ? 'source' : 'prebuilt'
}

/** The --build-arg values of a build in that mode (none from a clone: the Dockerfile's defaults). */
export function imageBuildArgs(mode: ImageBuildMode): Record<string, string> {
  return mode === 'source' ? {} : { DIST: 'prebuilt', LOCKFILE: IMAGE_LOCKFILE }
}

interface Stage {
  name?: string
  /** The image or stage it starts from, ARGs expanded. */
  from: string
  /** Context sources of COPY/ADD without --from. */
  copies: string[]
  /** Stages named by COPY --from. */
  uses: string[]
}

function expand(s: string, vars: Readonly<Record<string, string>>): string {
  return s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? '')
}

/** Instructions of a Dockerfile: comments dropped, `\` continuations joined. */
function instructions(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
}

function parseStages(text: string, buildArgs: Readonly<Record<string, string>>): Stage[] {
  const globals: Record<string, string> = {}
  const stages: Stage[] = []
  let vars: Record<string, string> = {}
  for (const line of instructions(text)) {
    const [op = '', ...rest] = line.split(/\s+/)
    const word = op.toUpperCase()
    const stage = stages.at(-1)
    if (word === 'ARG') {
      const [name = '', def] = rest.join(' ').split(/=(.*)/s)
      const value = buildArgs[name] ?? (def !== undefined ? expand(def, stage ? vars : globals) : stage ? globals[name] : undefined)
      if (value !== undefined) (stage ? vars : globals)[name] = value
    } else if (word === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest.join(' '))
      vars = {}
      stages.push({ from: expand(m?.[1] ?? '', globals), ...(m?.[2] ? { name: m[2] } : {}), copies: [], uses: [] })
    } else if ((word === 'COPY' || word === 'ADD') && stage) {
      const flags = rest.filter((t) => t.startsWith('--'))
      const args = rest.filter((t) => !t.startsWith('--')).map((t) => expand(t, { ...globals, ...vars }))
      const from = flags.find((f) => f.startsWith('--from='))
      if (from) stage.uses.push(from.slice('--from='.length))
      else stage.copies.push(...args.slice(0, -1))
    }
  }
  return stages
}

/**
 * The context paths COPYed by the stages the final stage needs (BuildKit builds only those), with the
 * given --build-arg values; in Dockerfile order, without duplicates.
 */
export function contextCopies(dockerfile: string, buildArgs: Readonly<Record<string, string>> = {}): string[] {
  const stages = parseStages(dockerfile, buildArgs)
  const byName = new Map(stages.filter((s) => s.name).map((s) => [s.name!, s]))
  const needed = new Set<Stage>()
  const visit = (s: Stage | undefined) => {
    if (!s || needed.has(s)) return
    needed.add(s)
    visit(byName.get(s.from))
    for (const u of s.uses) visit(byName.get(u))
  }
  visit(stages.at(-1))
  return [...new Set(stages.filter((s) => needed.has(s)).flatMap((s) => s.copies))]
}

/** A .dockerignore as a predicate on context-relative paths (the last matching pattern wins). */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!')
      const pat = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '')
      const re = pat
        .split('/')
        .map((seg) => (seg === '**' ? '.*' : seg.replace(/[.+^$()|[\]{}]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?')
      return { negate, re: new RegExp(`^${re}(?:/.*)?$`) }
    })
  return (path) => {
    let ignored = false
    for (const r of rules) if (r.re.test(path)) ignored = !r.negate
    return ignored
  }
}

function filesUnder(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...filesUnder(p))
    else out.push(p)
  }
  return out
}

export interface BuildContextCheck {
  context: string
  mode: ImageBuildMode
  buildArgs: Record<string, string>
  /** What the build COPYs from the context. */
  copies: string[]
  /** Those that are absent, empty, or left out by .dockerignore. */
  missing: string[]
}

/** Checks that `root` holds a Dockerfile and everything the build in its mode COPYs from the context. */
export function checkBuildContext(root: string, mode: ImageBuildMode = imageBuildMode(root)): BuildContextCheck {
  const buildArgs = imageBuildArgs(mode)
  const base = { context: root, mode, buildArgs }
  const file = join(root, 'Dockerfile')
  if (!existsSync(file)) return { ...base, copies: [], missing: ['Dockerfile'] }
  const copies = contextCopies(readFileSync(file, 'utf8'), buildArgs)
  const ignoreFile = join(root, '.dockerignore')
  const ignored = existsSync(ignoreFile) ? dockerignore(readFileSync(ignoreFile, 'utf8')) : () => false
  const missing = copies.filter((src) => {
    const p = join(root, src)
    if (!existsSync(p)) return true
    const files = statSync(p).isDirectory() ? filesUnder(p) : [p]
    return !files.some((f) => !ignored(relative(root, f).split(sep).join('/')))
  })
  return { ...base, copies, missing }
}
