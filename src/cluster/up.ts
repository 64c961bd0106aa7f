// `tpipe up`: a local kind cluster with the whole pipeline, Prometheus, Prometheus Adapter and the HPAs.
// planUp() is pure: it returns the ordered steps and the exact commands each runs, which --dry-run prints
// and the tests check. runUp() runs that same plan through an Executor (execa), step by step, each
// idempotent: re-running converges (`kind get clusters` before create, `helm upgrade --install`, a
// migration Job that is deleted and re-applied, migrations that are advisory-locked).
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Listr, PRESET_TIMER } from 'listr2'
import { parseAllDocuments, parseDocument } from 'yaml'
import { checkBuildContext, type BuildContextCheck } from './dockerfile.js'
import { CommandFailed, display, type CommandResult, type CommandSpec, type Executor } from './exec.js'
import { UMBRELLA_CHART, copyCharts, dependencyUpdateArgs, helmTemplate } from './helm.js'
import { PACKAGE_ROOT, checkTools, preflightMessage, type ToolCheck, type ToolName } from './tools.js'

export const UP_TOOLS: readonly ToolName[] = ['docker', 'kind', 'helm', 'kubectl']
/**
 * `tpipe up` uses Helm 4 (server-side apply, --force-conflicts; the charts alone render with 3.14+) and
 * kind 0.31 (kind/cluster.yaml pins the node image published with kind v0.31.0; node images are built for
 * one kind release, and an older kind may fail to boot it).
 */
export const UP_MIN_VERSIONS = { helm: [4, 0, 0], kind: [0, 31, 0] } as const
/** Why a minimum is what it is, added to the preflight message. */
const MIN_VERSION_WHY: Partial<Record<ToolName, string>> = {
  helm: 'tpipe up uses Helm 4 (server-side apply, --force-conflicts)',
  kind: 'kind/cluster.yaml pins the kindest/node image built for kind v0.31.0',
}

/** Third-party charts, pinned: `helm upgrade --install … --repo <url> --version <v>` needs no `helm repo add`. */
export const ADDONS = {
  metricsServer: { release: 'metrics-server', chart: 'metrics-server', repo: 'https://kubernetes-sigs.github.io/metrics-server/', version: '3.13.0', namespace: 'kube-system', values: 'kind/metrics-server-values.yaml' },
  prometheus: { release: 'prometheus', chart: 'prometheus', repo: 'https://prometheus-community.github.io/helm-charts', version: '29.2.0', namespace: 'monitoring', values: 'kind/prometheus-values.yaml' },
  adapter: { release: 'prometheus-adapter', chart: 'prometheus-adapter', repo: 'https://prometheus-community.github.io/helm-charts', version: '5.3.0', namespace: 'monitoring', values: 'kind/prometheus-adapter-values.yaml' },
} as const

/**
 * `tpipe up --grafana`: the official Grafana chart (moved from grafana.github.io to the grafana-community
 * repository in 2026; 11.6.1 is its last release on Grafana 12). Installed into the pipeline's namespace so
 * it can read the PostgreSQL Secret for its data source; its dashboard sidecar loads the chart's dashboard.
 */
export const GRAFANA = { release: 'grafana', chart: 'grafana', repo: 'https://grafana-community.github.io/helm-charts', version: '11.6.1', values: 'kind/grafana-values.yaml' } as const

export type UpStepId = 'preflight' | 'cluster' | 'image' | 'metrics-server' | 'prometheus' | 'prometheus-adapter' | 'pipeline' | 'postgresql' | 'migrations' | 'ready' | 'grafana'

export interface PlannedCommand extends CommandSpec {
  /** Set when the command runs only under a condition (shown in --dry-run). */
  when?: string
  /** stdin is the stdout of the command before it (`helm template … | kubectl apply -f -`). */
  inputFromPrevious?: boolean
}

export interface PlannedStep {
  id: UpStepId
  title: string
  commands: PlannedCommand[]
  /** What the step does besides its commands (checks, file copies). */
  notes?: string[]
}

export interface UpOptions {
  /** kind cluster name; the kube context is kind-<name>. */
  name: string
  recreate: boolean
  dryRun: boolean
  namespace: string
  release: string
  /** Image tag; never "latest". Default: <version>-<git commit>. */
  imageTag: string
  /** Where the charts are copied and their dependencies packaged. */
  stagingDir: string
  /** The checkout: Dockerfile, charts/, kind/. */
  root: string
  /** Also install Grafana with the PostgreSQL and Prometheus data sources and the tpipe dashboard. */
  grafana?: boolean
  /**
   * No Prometheus and no Prometheus Adapter: the HPAs scale on CPU only (metrics-server stays: it serves
   * CPU). Grafana's Prometheus data source then has nothing behind it.
   */
  skipMonitoring?: boolean
  /**
   * Loopback ports kind publishes the NodePorts on. Default: 8080/9090/3000 for the cluster "tpipe", and a
   * stable other set for any other --name, so a second cluster does not collide with the first.
   */
  hostPorts: HostPorts
}

export interface HostPorts {
  api: number
  prometheus: number
  grafana: number
}

/** NodePort (kind/cluster.yaml containerPort) → which host port publishes it. */
const NODE_PORTS: Record<number, keyof HostPorts> = { 30080: 'api', 30090: 'prometheus', 30300: 'grafana' }
export const DEFAULT_HOST_PORTS: HostPorts = { api: 8080, prometheus: 9090, grafana: 3000 }

/**
 * The host ports of cluster `name`: the defaults for "tpipe"; for another name the defaults plus a
 * stable offset (10000 + 10 × (hash of the name mod 100)) — the same on every run, so re-running `tpipe up
 * --name demo` prints the same endpoints, and in practice distinct from the default cluster's.
 */
export function hostPortsFor(name: string): HostPorts {
  if (name === 'tpipe') return DEFAULT_HOST_PORTS
  const offset = 10_000 + 10 * (createHash('sha256').update(name).digest().readUInt16BE(0) % 100)
  return { api: 8080 + offset, prometheus: 9090 + offset, grafana: 3000 + offset }
}

/** kind/cluster.yaml with the host ports of this cluster. */
export function kindConfig(o: Pick<UpOptions, 'root' | 'hostPorts'>): string {
  const doc = parseDocument(readFileSync(join(o.root, 'kind', 'cluster.yaml'), 'utf8'))
  const maps = doc.getIn(['nodes', 0, 'extraPortMappings']) as { items: { get(k: string): unknown; set(k: string, v: unknown): void }[] }
  for (const m of maps.items) {
    const which = NODE_PORTS[Number(m.get('containerPort'))]
    if (which) m.set('hostPort', o.hostPorts[which])
  }
  return doc.toString()
}

/** Where `tpipe up` writes this cluster's kind config. */
export function kindConfigPath(o: Pick<UpOptions, 'stagingDir'>): string {
  return join(dirname(o.stagingDir), 'kind-cluster.yaml')
}

/** Host ports already taken on 127.0.0.1 (kind would fail to create the cluster on them). */
export async function busyPorts(ports: readonly number[]): Promise<number[]> {
  const busy: number[] = []
  for (const port of ports) {
    const free = await new Promise<boolean>((done) => {
      const srv = createServer()
      srv.once('error', () => done(false))
      srv.listen(port, '127.0.0.1', () => srv.close(() => done(true)))
    })
    if (!free) busy.push(port)
  }
  return busy
}

export interface Endpoints {
  dashboard: string
  api: string
  swaggerUi: string
  /** Not with --skip-monitoring. */
  prometheus?: string
  /** With --grafana (kind/cluster.yaml maps its NodePort 30300 to localhost:3000). */
  grafana?: string
}

export function endpointsFor(p: HostPorts): Required<Endpoints> {
  return {
    dashboard: `http://localhost:${p.api}/`,
    api: `http://localhost:${p.api}/api/v1/gpus`,
    swaggerUi: `http://localhost:${p.api}/swagger`,
    prometheus: `http://localhost:${p.prometheus}`,
    grafana: `http://localhost:${p.grafana}/d/tpipe-fleet`,
  }
}

const { grafana: GRAFANA_DEFAULT_URL, ...DEFAULT_ENDPOINTS } = endpointsFor(DEFAULT_HOST_PORTS)
/** The endpoints of the default cluster "tpipe". */
export const ENDPOINTS: Endpoints = DEFAULT_ENDPOINTS
export const GRAFANA_URL = GRAFANA_DEFAULT_URL

export interface UpResult {
  cluster: string
  context: string
  namespace: string
  release: string
  image: string
  dryRun: boolean
  steps: { id: UpStepId; title: string; commands: string[]; notes?: string[]; durationMs?: number }[]
  endpoints: Endpoints
  /** --dry-run: the manifests it would apply (kind config, rendered charts). */
  manifests?: { name: string; content: string }[]
  /** The image build: its context, the --build-arg values, and what the Dockerfile copies from it. */
  build: BuildContextCheck
}

export function imageRef(o: Pick<UpOptions, 'imageTag'>): string {
  return `tpipe:${o.imageTag}`
}

/** How often `tpipe up` looks at the migration Job, and how long it waits at most. */
export const MIGRATION_POLL_MS = 2000
export const MIGRATION_TIMEOUT_MS = 10 * 60_000

/** Waiting reasons that never resolve by themselves: the pod will not start. */
const STUCK_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'CrashLoopBackOff'])

/* eslint-disable @typescript-eslint/no-explicit-any -- kubectl's JSON output */
/**
 * The state of the migration Job from `kubectl get job -o json` and `kubectl get pods -o json`: done,
 * failed (the Job's Failed condition, or a pod that failed or cannot start, with why), or still running.
 */
export function migrationState(jobJson: string, podsJson: string): { state: 'complete' | 'failed' | 'running'; why?: string } {
  const job = JSON.parse(jobJson) as any
  const conds: any[] = job?.status?.conditions ?? []
  const cond = (t: string) => conds.find((c) => c.type === t && c.status === 'True')
  if (cond('Complete')) return { state: 'complete' }
  const failed = cond('Failed')
  if (failed) return { state: 'failed', why: `Job failed: ${failed.reason ?? ''} ${failed.message ?? ''}`.trim() }
  const pods: any[] = (JSON.parse(podsJson || '{"items":[]}') as any).items ?? []
  for (const p of pods) {
    const name = p.metadata?.name ?? 'pod'
    for (const cs of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
      const term = cs.state?.terminated ?? cs.lastState?.terminated
      if (term && term.exitCode !== 0) return { state: 'failed', why: `${name}: container ${cs.name} exited with ${term.exitCode}${term.reason ? ` (${term.reason})` : ''}` }
      const waiting = cs.state?.waiting
      if (waiting && STUCK_REASONS.has(waiting.reason)) return { state: 'failed', why: `${name}: container ${cs.name} cannot start: ${waiting.reason}${waiting.message ? ` ${waiting.message}` : ''}` }
    }
    if (p.status?.phase === 'Failed') return { state: 'failed', why: `${name} failed${p.status.reason ? `: ${p.status.reason}` : ''}` }
  }
  return { state: 'running' }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export function migrateJobName(release: string): string {
  return `${release}-migrate`.slice(0, 63).replace(/-+$/, '')
}

/** <version>-<commit>[-dirty-<time>]: a fresh tag per build of a changed tree, so pods roll; never "latest". */
export function defaultImageTag(root = PACKAGE_ROOT, now = new Date()): string {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
  try {
    const git = (args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const sha = git(['rev-parse', '--short=12', 'HEAD'])
    const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== ''
    return dirty ? `${version}-${sha}-dirty-${now.toISOString().replace(/[-:]/g, '').slice(0, 13).toLowerCase()}` : `${version}-${sha}`
  } catch {
    return `${version}-local-${now.toISOString().replace(/[-:]/g, '').slice(0, 13).toLowerCase()}`
  }
}

export function defaultUpOptions(over: Partial<UpOptions> = {}): UpOptions {
  const name = over.name ?? 'tpipe'
  const root = over.root ?? PACKAGE_ROOT
  return {
    name,
    recreate: false,
    dryRun: false,
    namespace: 'tpipe',
    release: 'tpipe',
    imageTag: over.imageTag ?? defaultImageTag(root),
    stagingDir: join(tmpdir(), `tpipe-up-${name}`, 'charts'),
    root,
    hostPorts: hostPortsFor(name),
    ...over,
  }
}

/** `helm upgrade --install` of the umbrella chart and `helm template` of its migration Job share these. */
function pipelineValueArgs(o: UpOptions): string[] {
  return ['--values', join(o.root, 'kind', 'values.yaml'), '--set', `global.image.tag=${o.imageTag}`, ...Object.entries(pipelineSets(o)).flatMap(([k, v]) => ['--set', `${k}=${v}`])]
}

/** Values set on top of kind/values.yaml: without monitoring the HPAs have no buffer metric to read. */
function pipelineSets(o: UpOptions): Record<string, string> {
  return o.skipMonitoring ? { 'mqwriter.autoscaling.bufferMetric.enabled': 'false', 'mqreader.autoscaling.bufferMetric.enabled': 'false' } : {}
}

/** The ordered plan of `tpipe up`: runs nothing (it reads the Dockerfile to list the build context). */
export function planUp(o: UpOptions): PlannedStep[] {
  if (o.imageTag === 'latest' || o.imageTag === '') throw new Error('the image tag must be a pinned version, not "latest"')
  const ctx = `kind-${o.name}`
  const kube = ['--context', ctx]
  const hkube = ['--kube-context', ctx]
  const image = imageRef(o)
  const chart = join(o.stagingDir, UMBRELLA_CHART)
  const archive = join(tmpdir(), `tpipe-image-${o.imageTag}.tar`)
  const build = checkBuildContext(o.root)
  const addon = (a: (typeof ADDONS)[keyof typeof ADDONS]): PlannedCommand => ({
    tool: 'helm',
    args: ['upgrade', '--install', a.release, a.chart, '--repo', a.repo, '--version', a.version, '--namespace', a.namespace, '--create-namespace', '--values', join(o.root, a.values), ...hkube, '--wait', '--timeout', '10m'],
  })
  const rollouts: PlannedCommand[] = [
    ...['mqwriter', 'partition-controller', 'collector', 'streamer', 'apigw'].map((d) => ({ tool: 'kubectl', args: ['rollout', 'status', `deployment/${d}`, '--namespace', o.namespace, ...kube, '--timeout=10m'] })),
    { tool: 'kubectl', args: ['rollout', 'status', 'statefulset/mqreader', '--namespace', o.namespace, ...kube, '--timeout=10m'] },
  ]
  return [
    {
      id: 'preflight',
      title: 'Check docker, kind, helm and kubectl',
      commands: [
        { tool: 'docker', args: ['--version'] },
        { tool: 'docker', args: ['info', '--format', '{{.ServerVersion}}'] },
        { tool: 'kind', args: ['version'] },
        { tool: 'helm', args: ['version', '--short'] },
        { tool: 'kubectl', args: ['version', '--client'] },
      ],
      notes: ['each tool present and recent enough (helm 4, kind 0.31), the Docker daemon answering; charts/, kind/ and the image build context present'],
    },
    {
      id: 'cluster',
      title: `Create the kind cluster "${o.name}"`,
      commands: [
        { tool: 'kind', args: ['get', 'clusters'] },
        ...(o.recreate ? [{ tool: 'kind', args: ['delete', 'cluster', '--name', o.name], when: 'the cluster exists (--recreate)' }] : []),
        { tool: 'kind', args: ['create', 'cluster', '--name', o.name, '--config', kindConfigPath(o), '--wait', '5m'], when: o.recreate ? 'always (--recreate)' : 'the cluster does not exist' },
      ],
      notes: [
        `write ${kindConfigPath(o)}: kind/cluster.yaml with host ports API ${o.hostPorts.api}, Prometheus ${o.hostPorts.prometheus}, Grafana ${o.hostPorts.grafana} (127.0.0.1; checked free before creating)`,
      ],
    },
    {
      id: 'image',
      title: `Build and load the image ${image}`,
      notes: [
        `build context ${build.context} (${build.mode === 'source' ? 'a clone: the image compiles the sources' : 'an installed package: the image takes its prebuilt dist/'}); the Dockerfile copies ${build.copies.join(', ')}${build.missing.length ? ` — MISSING: ${build.missing.join(', ')}` : ''}`,
      ],
      commands: [
        { tool: 'docker', args: ['build', '--tag', image, ...Object.entries(build.buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]), o.root] },
        { tool: 'kind', args: ['load', 'docker-image', image, '--name', o.name] },
        // Under Docker's containerd image store `kind load docker-image` fails ("content digest … not found").
        { tool: 'docker', args: ['save', '--output', archive, image], when: 'kind load docker-image failed' },
        { tool: 'kind', args: ['load', 'image-archive', archive, '--name', o.name], when: 'kind load docker-image failed' },
      ],
    },
    { id: 'metrics-server', title: 'Install metrics-server', commands: [addon(ADDONS.metricsServer)] },
    ...(o.skipMonitoring
      ? []
      : [
          { id: 'prometheus' as const, title: 'Install Prometheus', commands: [addon(ADDONS.prometheus)] },
          { id: 'prometheus-adapter' as const, title: 'Install Prometheus Adapter', commands: [addon(ADDONS.adapter)] },
        ]),
    {
      id: 'pipeline',
      title: 'Install the telemetry-pipeline chart',
      notes: [`copy ${join(o.root, 'charts')} to ${o.stagingDir}`, ...(o.skipMonitoring ? ['--skip-monitoring: the HPAs scale on CPU only (no buffer metric without Prometheus Adapter)'] : [])],
      commands: [
        ...dependencyUpdateArgs(o.stagingDir).map((args) => ({ tool: 'helm', args })),
        // No --wait: on a first install the services cannot be ready before the migrations have run.
        // --force-conflicts: spec.replicas changed by `tpipe scale` (a workload without an HPA) is set back
        // to the values instead of failing the server-side apply, so re-running converges.
        // --no-hooks: the migration Job (a post-install/pre-upgrade hook for plain helm users) is run by
        // the next steps instead, watched so a failure shows at once with its logs.
        { tool: 'helm', args: ['upgrade', '--install', o.release, chart, '--namespace', o.namespace, '--create-namespace', ...pipelineValueArgs(o), ...hkube, '--force-conflicts', '--no-hooks', '--timeout', '10m'] },
      ],
    },
    {
      id: 'postgresql',
      title: 'Wait for PostgreSQL',
      commands: [{ tool: 'kubectl', args: ['rollout', 'status', 'statefulset/postgresql', '--namespace', o.namespace, ...kube, '--timeout=10m'] }],
    },
    {
      id: 'migrations',
      title: 'Run the migrations',
      commands: [
        { tool: 'kubectl', args: ['delete', 'job', migrateJobName(o.release), '--namespace', o.namespace, ...kube, '--ignore-not-found', '--wait=true'] },
        { tool: 'helm', args: ['template', o.release, chart, '--namespace', o.namespace, ...pipelineValueArgs(o), '--show-only', 'templates/migrate-job.yaml'] },
        { tool: 'kubectl', args: ['apply', '--namespace', o.namespace, ...kube, '--filename', '-'], inputFromPrevious: true },
        // Polled until the Job is Complete; Failed (or a pod of it failing) ends the step at once.
        { tool: 'kubectl', args: ['get', 'job', migrateJobName(o.release), '--namespace', o.namespace, ...kube, '--output', 'json'], when: `polled every ${MIGRATION_POLL_MS / 1000}s until Complete or Failed (at most 10m)` },
        { tool: 'kubectl', args: ['get', 'pods', '--selector', `job-name=${migrateJobName(o.release)}`, '--namespace', o.namespace, ...kube, '--output', 'json'], when: 'polled with the Job' },
        { tool: 'kubectl', args: ['logs', '--selector', `job-name=${migrateJobName(o.release)}`, '--namespace', o.namespace, ...kube, '--all-containers', '--prefix', '--tail=100'], when: 'the Job or one of its pods failed' },
      ],
    },
    { id: 'ready', title: 'Wait for every service to be ready', commands: rollouts },
    ...(o.grafana
      ? [
          {
            id: 'grafana' as const,
            title: 'Install Grafana (data sources PostgreSQL and Prometheus, the tpipe dashboard)',
            commands: [
              {
                tool: 'helm',
                args: ['upgrade', '--install', GRAFANA.release, GRAFANA.chart, '--repo', GRAFANA.repo, '--version', GRAFANA.version, '--namespace', o.namespace, '--values', join(o.root, GRAFANA.values), ...hkube, '--wait', '--timeout', '10m'],
              },
            ],
          },
        ]
      : []),
  ]
}

function endpoints(o: UpOptions): Endpoints {
  const { prometheus, grafana, ...rest } = endpointsFor(o.hostPorts)
  return { ...rest, ...(o.skipMonitoring ? {} : { prometheus }), ...(o.grafana ? { grafana } : {}) }
}

function summary(o: UpOptions, steps: PlannedStep[], durations: Map<UpStepId, number>): UpResult {
  return {
    cluster: o.name,
    context: `kind-${o.name}`,
    namespace: o.namespace,
    release: o.release,
    image: imageRef(o),
    dryRun: o.dryRun,
    steps: steps.map((s) => ({
      id: s.id,
      title: s.title,
      commands: s.commands.map((c) => `${c.inputFromPrevious ? '| ' : ''}${display(c)}${c.when ? `    # only if ${c.when}` : ''}`),
      ...(s.notes ? { notes: s.notes } : {}),
      ...(durations.has(s.id) ? { durationMs: durations.get(s.id)! } : {}),
    })),
    endpoints: endpoints(o),
    build: checkBuildContext(o.root),
  }
}

/** How to look further when a step fails. */
export function failureHint(o: UpOptions, step: UpStepId): string {
  const k = `--context kind-${o.name}`
  const lines = [`step "${step}" failed. To look further:`]
  if (['pipeline', 'postgresql', 'migrations', 'ready'].includes(step)) {
    lines.push(`  kubectl ${k} -n ${o.namespace} get pods,jobs`, `  kubectl ${k} -n ${o.namespace} describe pod <pod>`, `  kubectl ${k} -n ${o.namespace} logs <pod> --all-containers`)
    if (step === 'migrations') lines.push(`  kubectl ${k} -n ${o.namespace} logs job/${migrateJobName(o.release)} --all-containers`)
  } else if (['metrics-server', 'prometheus', 'prometheus-adapter', 'grafana'].includes(step)) {
    lines.push(`  kubectl ${k} get pods -A`, `  helm --kube-context kind-${o.name} list -A`)
  }
  if (step !== 'preflight') lines.push(`  kind export logs --name ${o.name}   (every node and container log)`, `  tpipe up --name ${o.name} again: every step is idempotent`)
  return lines.join('\n')
}

export class UpFailed extends Error {
  readonly step: UpStepId
  constructor(step: UpStepId, title: string, cause: Error, hint: string) {
    super(`tpipe up failed at step "${title}":\n${cause.message}\n\n${hint}`)
    this.name = 'UpFailed'
    this.step = step
  }
}

export interface RunUpDeps {
  exec: Executor
  /** Tool checks (injected so tests can run without the tools). */
  checkTools?: (names: readonly ToolName[]) => Promise<ToolCheck[]>
  /** Filled by the preflight with the binaries it checked (e.g. the bundled helm); the executor reads it. */
  paths?: Record<string, string>
  /** Render the umbrella chart for --dry-run (helm on this machine); omitted: no rendered manifests. */
  render?: (o: UpOptions) => Promise<{ name: string; content: string }[]>
  /** How often the migration Job is polled (default MIGRATION_POLL_MS), and for how long at most. */
  pollMs?: number
  migrationTimeoutMs?: number
  /** Progress output: listr2 'default' (a TTY), 'simple', or 'silent' (--json, tests). */
  renderer?: 'default' | 'simple' | 'silent'
  /** Which of these loopback ports are taken (injected by tests). */
  busyPorts?: (ports: readonly number[]) => Promise<number[]>
}

async function must(exec: Executor, spec: CommandSpec): Promise<CommandResult> {
  const r = await exec(spec)
  if (r.exitCode !== 0) throw new CommandFailed(r)
  return r
}

async function runStep(o: UpOptions, step: PlannedStep, deps: RunUpDeps, report: (line: string) => void): Promise<void> {
  const cmd = step.commands
  const at = (i: number): PlannedCommand => cmd[i]!
  switch (step.id) {
    case 'preflight': {
      const checks = await (deps.checkTools ?? ((n) => checkTools(n, process.env, { min: UP_MIN_VERSIONS })))(UP_TOOLS)
      for (const c of checks) if (c.ok && c.path && deps.paths) deps.paths[c.name] = c.path
      const why = checks.filter((c) => !c.ok && c.version && MIN_VERSION_WHY[c.name]).map((c) => `  (${c.name}: ${MIN_VERSION_WHY[c.name]})`)
      const problems = [preflightMessage(checks), ...why].filter((m): m is string => m !== undefined)
      const files = ['charts', join('kind', 'cluster.yaml'), join('kind', 'values.yaml')].filter((f) => !existsSync(join(o.root, f)))
      const missing = [...files, ...checkBuildContext(o.root).missing]
      if (missing.length > 0) problems.push(`incomplete tpipe installation: ${missing.join(', ')} missing under ${o.root} (reinstall the package, or run tpipe up from a clone)`)
      if (problems.length > 0) throw new Error(problems.join('\n'))
      return
    }
    case 'cluster': {
      const list = await must(deps.exec, at(0))
      const exists = list.stdout.split('\n').map((l) => l.trim()).includes(o.name)
      if (exists && !o.recreate) {
        report(`cluster "${o.name}" exists: reusing it`)
        return
      }
      if (exists && o.recreate) await must(deps.exec, at(1))
      const ports = [o.hostPorts.api, o.hostPorts.prometheus, o.hostPorts.grafana]
      const busy = await (deps.busyPorts ?? busyPorts)(ports)
      if (busy.length > 0) {
        throw new Error(
          `host port${busy.length > 1 ? 's' : ''} ${busy.join(', ')} on 127.0.0.1 ${busy.length > 1 ? 'are' : 'is'} in use (another kind cluster, or another program): ` +
            `choose others with --api-port, --prometheus-port, --grafana-port (this cluster would use ${ports.join(', ')})`,
        )
      }
      mkdirSync(dirname(kindConfigPath(o)), { recursive: true })
      writeFileSync(kindConfigPath(o), kindConfig(o))
      await must(deps.exec, at(cmd.length - 1))
      return
    }
    case 'image': {
      await must(deps.exec, at(0))
      const load = await deps.exec(at(1))
      if (load.exitCode === 0) return
      report('kind load docker-image failed; falling back to docker save + kind load image-archive')
      await must(deps.exec, at(2))
      await must(deps.exec, at(3))
      return
    }
    case 'pipeline':
      copyCharts(o.stagingDir, o.root)
      for (const c of cmd) await must(deps.exec, c)
      return
    case 'migrations': {
      const [del, render, apply, getJob, getPods, logs] = cmd as [PlannedCommand, PlannedCommand, PlannedCommand, PlannedCommand, PlannedCommand, PlannedCommand]
      await must(deps.exec, del)
      const manifest = await must(deps.exec, render)
      await must(deps.exec, { ...apply, input: manifest.stdout })
      const pollMs = deps.pollMs ?? MIGRATION_POLL_MS
      const deadline = Date.now() + (deps.migrationTimeoutMs ?? MIGRATION_TIMEOUT_MS)
      for (;;) {
        const job = await must(deps.exec, getJob)
        const pods = await deps.exec(getPods)
        const st = migrationState(job.stdout, pods.exitCode === 0 ? pods.stdout : '')
        if (st.state === 'complete') return
        if (st.state === 'failed') {
          const out = await deps.exec(logs)
          throw new Error(`the migration Job failed: ${st.why}\n--- ${display(logs)}\n${out.all.split('\n').slice(-60).join('\n')}`)
        }
        if (Date.now() > deadline) {
          const out = await deps.exec(logs)
          throw new Error(`the migration Job did not complete in ${Math.round((deps.migrationTimeoutMs ?? MIGRATION_TIMEOUT_MS) / 1000)}s\n--- ${display(logs)}\n${out.all.split('\n').slice(-60).join('\n')}`)
        }
        report('waiting for the migration Job')
        await new Promise((r) => setTimeout(r, pollMs))
      }
    }
    default: {
      let previous: CommandResult | undefined
      for (const c of cmd) {
        report(display(c))
        previous = await must(deps.exec, c.inputFromPrevious ? { ...c, input: previous?.stdout ?? '' } : c)
      }
    }
  }
}

/** Runs (or with dryRun, describes) `tpipe up`. Throws UpFailed naming the step, its output and where to look. */
export async function runUp(o: UpOptions, deps: RunUpDeps): Promise<UpResult> {
  const steps = planUp(o)
  const durations = new Map<UpStepId, number>()
  if (o.dryRun) {
    const result = summary(o, steps, durations)
    if (result.build.missing.length > 0) {
      const e = new Error(`the image build context ${result.build.context} lacks ${result.build.missing.join(', ')} (the Dockerfile copies ${result.build.copies.join(', ')})`)
      throw new UpFailed('image', steps.find((s) => s.id === 'image')!.title, e, 'reinstall the package, or run tpipe up from a clone')
    }
    result.manifests = [{ name: kindConfigPath(o), content: kindConfig(o) }, ...(deps.render ? await deps.render(o) : [])]
    return result
  }
  let failure: UpFailed | undefined
  const tasks = new Listr(
    steps.map((step) => ({
      title: step.title,
      task: async (_ctx: unknown, task: { output: string }) => {
        const started = Date.now()
        try {
          await runStep(o, step, deps, (line) => {
            task.output = line
          })
        } catch (err) {
          const e = err instanceof Error ? err : new Error(String(err))
          failure = new UpFailed(step.id, step.title, e, step.id === 'preflight' ? 'install what is missing, then run tpipe up again' : failureHint(o, step.id))
          // The progress line gets the first line only; the whole story is thrown after the list ends.
          throw new Error(e.message.split('\n')[0])
        } finally {
          durations.set(step.id, Date.now() - started)
        }
      },
    })),
    {
      concurrent: false,
      exitOnError: true,
      renderer: deps.renderer ?? 'default',
      fallbackRenderer: 'simple',
      rendererOptions: { timer: PRESET_TIMER, collapseErrors: false, showErrorMessage: false },
      fallbackRendererOptions: { timer: PRESET_TIMER },
    },
  )
  try {
    await tasks.run()
  } catch (err) {
    throw failure ?? err
  }
  return summary(o, steps, durations)
}

/** --dry-run manifests: the umbrella chart as `tpipe up` would install it, rendered by helm on this machine. */
export async function renderForDryRun(helm: string, o: UpOptions, stage: (dest: string) => Promise<string>): Promise<{ name: string; content: string }[]> {
  const staged = await stage(o.stagingDir)
  const chart = join(staged, UMBRELLA_CHART)
  const common = { release: o.release, namespace: o.namespace, valuesFiles: [join(o.root, 'kind', 'values.yaml')], set: { 'global.image.tag': o.imageTag, ...pipelineSets(o) } }
  return [{ name: `helm template ${o.release} ${UMBRELLA_CHART} (kind values)`, content: summarizeBigValues(await helmTemplate(helm, chart, common)) }]
}

/** ConfigMap/Secret values longer than this are summarised in --dry-run output. */
export const DRY_RUN_VALUE_LIMIT = 2048

/**
 * Rendered manifests for people to read: a ConfigMap or Secret value over DRY_RUN_VALUE_LIMIT characters
 * (the streamer's CSV: hundreds of KB) becomes one line saying what it is, its size and first line.
 */
export function summarizeBigValues(manifests: string): string {
  const docs = parseAllDocuments(manifests)
  let changed = false
  for (const doc of docs) {
    const kind = doc.get('kind')
    if (kind !== 'ConfigMap' && kind !== 'Secret') continue
    for (const field of ['data', 'binaryData', 'stringData']) {
      const map = doc.get(field) as { items?: { key: unknown; value: unknown }[] } | undefined
      for (const item of map?.items ?? []) {
        const v = item.value as { value?: unknown } | null
        const text = typeof v?.value === 'string' ? v.value : undefined
        if (text === undefined || text.length <= DRY_RUN_VALUE_LIMIT) continue
        const first = field === 'data' ? `; first line: ${text.split('\n')[0]!.slice(0, 120)}` : ''
        doc.setIn([field, String((item.key as { value?: unknown }).value ?? item.key)], `<${text.length} characters${field === 'binaryData' ? ' of base64' : ''} not shown${first}>`)
        changed = true
      }
    }
  }
  return changed ? docs.map((d) => d.toString()).join('') : manifests
}
