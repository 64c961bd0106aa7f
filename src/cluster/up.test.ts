import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { runDown } from './down.js'
import { display, execaExecutor, type CommandResult, type CommandSpec, type Executor } from './exec.js'
import { copyCharts, helmBinary, stageCharts } from './helm.js'
import { PACKAGE_ROOT, checkTools } from './tools.js'
import { ADDONS, ENDPOINTS, UP_MIN_VERSIONS, UP_TOOLS, UpFailed, defaultImageTag, defaultUpOptions, migrationState, planUp, renderForDryRun, runUp, summarizeBigValues, type UpOptions } from './up.js'

const scratch = mkdtempSync(join(tmpdir(), 'tpipe-up-test-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

function opts(over: Partial<UpOptions> = {}): UpOptions {
  return defaultUpOptions({ imageTag: '0.1.0-test', stagingDir: join(scratch, 'staged'), ...over })
}

const JOB_COMPLETE = JSON.stringify({ status: { conditions: [{ type: 'Complete', status: 'True' }], succeeded: 1 } })

/**
 * An executor that records every command and answers from a script (default: success, empty output;
 * the migration Job complete).
 */
function recorder(answer: (cmd: string, spec: CommandSpec) => Partial<CommandResult> | undefined = () => undefined) {
  const calls: { cmd: string; input?: string }[] = []
  const exec: Executor = async (spec) => {
    const cmd = display(spec)
    calls.push({ cmd, ...(spec.input !== undefined ? { input: spec.input } : {}) })
    const a = answer(cmd, spec) ?? (cmd.startsWith('kubectl get job ') ? { stdout: JOB_COMPLETE } : {})
    const out = a.stdout ?? ''
    return { command: cmd, exitCode: a.exitCode ?? 0, stdout: out, stderr: a.stderr ?? '', all: a.all ?? `${out}${a.stderr ?? ''}` }
  }
  return { exec, calls }
}

const noneBusy = async () => []
const allToolsOk = async () => (['docker', 'kind', 'helm', 'kubectl'] as const).map((name) => ({ name, ok: true }))

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'bin', 'dev.js'), ...args], { cwd: PACKAGE_ROOT, env, timeout: 120_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) =>
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

describe('planUp', () => {
  it('is the ordered plan of issue 6', () => {
    expect(planUp(opts()).map((s) => s.id)).toEqual(['preflight', 'cluster', 'image', 'metrics-server', 'prometheus', 'prometheus-adapter', 'pipeline', 'postgresql', 'migrations', 'ready'])
  })

  it('uses the kind context everywhere, pinned addon charts, and never the tag latest', () => {
    const steps = planUp(opts({ name: 'demo' }))
    const cmds = steps.flatMap((s) => s.commands.map(display))
    for (const c of cmds.filter((x) => /^kubectl (rollout|delete|apply|wait)/.test(x))) expect(c).toContain('--context kind-demo')
    for (const c of cmds.filter((x) => x.startsWith('helm upgrade'))) expect(c).toContain('--kube-context kind-demo')
    expect(cmds).toContain(`docker build --tag tpipe:0.1.0-test ${PACKAGE_ROOT}`)
    expect(cmds.some((c) => c.includes('tpipe:latest'))).toBe(false)
    expect(() => planUp(opts({ imageTag: 'latest' }))).toThrow(/latest/)
    const addons = cmds.filter((c) => c.startsWith('helm upgrade --install') && c.includes('--repo'))
    expect(addons).toHaveLength(3)
    for (const a of Object.values(ADDONS)) expect(addons.some((c) => c.includes(`--version ${a.version}`) && c.includes(`--namespace ${a.namespace}`) && c.includes('--wait'))).toBe(true)
    // The pipeline is installed without --wait (readiness needs the migrations) and without its hooks
    // (tpipe up runs the migration Job itself, watched), then migrated, then awaited.
    const install = cmds.find((c) => c.startsWith('helm upgrade --install tpipe'))!
    expect(install).not.toContain('--wait')
    expect(install).toContain('--no-hooks')
    expect(install).toContain('--set global.image.tag=0.1.0-test')
    expect(install).toContain('--force-conflicts')
    expect(cmds.indexOf(install)).toBeLessThan(cmds.findIndex((c) => c.includes('rollout status statefulset/postgresql')))
    expect(cmds.findIndex((c) => c.includes('get job tpipe-migrate'))).toBeLessThan(cmds.findIndex((c) => c.includes('deployment/apigw')))
    expect(cmds.filter((c) => c.includes('kind create cluster'))[0]).toContain(`--config ${join(scratch, 'kind-cluster.yaml')}`)
  })

  it('--skip-monitoring installs neither Prometheus nor the adapter, and turns the HPAs’ buffer metric off', () => {
    const steps = planUp(opts({ skipMonitoring: true }))
    expect(steps.map((s) => s.id)).toEqual(['preflight', 'cluster', 'image', 'metrics-server', 'pipeline', 'postgresql', 'migrations', 'ready'])
    const install = steps.find((s) => s.id === 'pipeline')!.commands.map(display).find((c) => c.startsWith('helm upgrade --install tpipe'))!
    expect(install).toContain('--set mqwriter.autoscaling.bufferMetric.enabled=false --set mqreader.autoscaling.bufferMetric.enabled=false')
    // The migration Job is rendered with the same values as the install.
    expect(display(steps.find((s) => s.id === 'migrations')!.commands[1]!)).toContain('--set mqreader.autoscaling.bufferMetric.enabled=false')
  })

  it('--recreate deletes the cluster before creating it', () => {
    const cluster = planUp(opts({ recreate: true })).find((s) => s.id === 'cluster')!
    expect(cluster.commands.map(display)).toEqual(['kind get clusters', 'kind delete cluster --name tpipe', `kind create cluster --name tpipe --config ${join(scratch, 'kind-cluster.yaml')} --wait 5m`])
  })

  it('prints the Swagger UI path apigw really serves', () => {
    const app = readFileSync(join(PACKAGE_ROOT, 'src', 'apigw', 'app.ts'), 'utf8')
    expect(app).toContain(`routePrefix: '${new URL(ENDPOINTS.swaggerUi).pathname}'`)
    expect(new URL(ENDPOINTS.api).pathname).toBe('/api/v1/gpus')
  })

  it('tags images <version>-<commit>', () => {
    expect(defaultImageTag()).toMatch(/^0\.1\.0-([0-9a-f]{7,}|local)(-dirty-\d{8}t\d{4})?/)
  })
})

describe('host ports of a second cluster (issue 12 defect 10)', () => {
  const hostPorts = (yamlText: string) => (parse(yamlText).nodes[0].extraPortMappings as { containerPort: number; hostPort: number }[]).map((m) => m.hostPort)

  it('a cluster with another --name publishes on other loopback ports than the default one, the same on every run', async () => {
    const first = await runUp(opts({ dryRun: true }), { exec: recorder().exec })
    const second = await runUp(defaultUpOptions({ name: 'demo', imageTag: '0.1.0-test', dryRun: true, stagingDir: join(scratch, 'demo', 'charts') }), { exec: recorder().exec })
    const a = hostPorts(first.manifests![0]!.content)
    const b = hostPorts(second.manifests![0]!.content)
    expect(a).toEqual([8080, 9090, 3000])
    for (const p of b) expect(a, `demo's host ports ${b.join(', ')}`).not.toContain(p)
    expect(second.endpoints.api).toBe(`http://localhost:${b[0]}/api/v1/gpus`)
    expect(second.endpoints.prometheus).toBe(`http://localhost:${b[1]}`)
    expect(defaultUpOptions({ name: 'demo', imageTag: 'x' }).hostPorts).toEqual(defaultUpOptions({ name: 'demo', imageTag: 'y' }).hostPorts)
    // Everything else in kind/cluster.yaml is kept (node image, NodePorts, loopback only).
    const cfg = parse(second.manifests![0]!.content)
    expect(cfg.nodes[0].image).toBe(parse(readFileSync(join(PACKAGE_ROOT, 'kind', 'cluster.yaml'), 'utf8')).nodes[0].image)
    expect(cfg.nodes[0].extraPortMappings.map((m: { containerPort: number; listenAddress: string }) => `${m.listenAddress}:${m.containerPort}`)).toEqual(['127.0.0.1:30080', '127.0.0.1:30090', '127.0.0.1:30300'])
  })

  it('a taken host port stops the run before kind create, naming the port and the flags (the real check on a port held here)', async () => {
    const { createServer } = await import('node:net')
    const holder = createServer()
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r))
    const taken = (holder.address() as { port: number }).port
    try {
      const { exec, calls } = recorder()
      const o = opts({ hostPorts: { api: taken, prometheus: 9090, grafana: 3000 } })
      const err = (await runUp(o, { exec, checkTools: allToolsOk, renderer: 'silent', busyPorts: async (ports) => (await import('./up.js')).busyPorts(ports.filter((p) => p === taken)) }).catch((e: unknown) => e)) as UpFailed
      expect(err).toBeInstanceOf(UpFailed)
      expect(err.step).toBe('cluster')
      expect(err.message).toMatch(new RegExp(`host port ${taken} on 127\\.0\\.0\\.1 is in use`))
      expect(err.message).toMatch(/--api-port, --prometheus-port, --grafana-port/)
      expect(calls.some((c) => c.cmd.startsWith('kind create'))).toBe(false)
    } finally {
      holder.close()
    }
  })
})

describe('preflight versions', () => {
  it('refuses a kind older than 0.31 (the pinned node image is built for it), saying why (issue 12 defect 10)', async () => {
    const bin = join(scratch, 'old-kind')
    mkdirSync(bin, { recursive: true })
    const tool = (name: string, out: string) => writeFileSync(join(bin, name), `#!/bin/sh\necho '${out}'\n`, { mode: 0o755 })
    tool('docker', 'Docker version 28.2.2, build e6534b4')
    tool('kind', 'kind v0.27.0 go1.23.6 linux/amd64')
    tool('helm', 'v4.1.4+g05fa379')
    tool('kubectl', 'Client Version: v1.35.2')
    const checks = await checkTools(UP_TOOLS, { PATH: bin }, { min: UP_MIN_VERSIONS })
    expect(checks.find((c) => c.name === 'kind')).toMatchObject({ ok: false, version: '0.27.0' })
    expect(checks.find((c) => c.name === 'kind')!.problem).toMatch(/kind 0\.27\.0 is too old \(need 0\.31\.0 or newer\)/)
    const { exec } = recorder()
    const err = (await runUp(opts(), { exec, renderer: 'silent', busyPorts: noneBusy, checkTools: async () => checks }).catch((e: unknown) => e)) as UpFailed
    expect(err.step).toBe('preflight')
    expect(err.message).toMatch(/kind: kind\/cluster\.yaml pins the kindest\/node image built for kind v0\.31\.0/)
    tool('kind', 'kind v0.31.0 go1.25.5 linux/amd64')
    expect((await checkTools(['kind'], { PATH: bin }, { min: UP_MIN_VERSIONS }))[0]).toMatchObject({ ok: true, version: '0.31.0' })
  })
})

describe('runUp', () => {
  it('creates a missing cluster and runs every step in order; the migration Job gets the rendered manifest on stdin', async () => {
    const { exec, calls } = recorder((cmd) => (cmd.startsWith('helm template') ? { stdout: 'kind: Job\nmetadata:\n  name: tpipe-migrate\n' } : cmd === 'kind get clusters' ? { stdout: 'other\n' } : undefined))
    const res = await runUp(opts(), { exec, checkTools: allToolsOk, renderer: 'silent', busyPorts: noneBusy })
    const cmds = calls.map((c) => c.cmd)
    expect(cmds[0]).toBe('kind get clusters')
    expect(cmds[1]).toMatch(/^kind create cluster --name tpipe/)
    expect(cmds[2]).toMatch(/^docker build/)
    expect(cmds[3]).toMatch(/^kind load docker-image tpipe:0.1.0-test/)
    expect(cmds.some((c) => c.startsWith('docker save'))).toBe(false)
    const apply = calls.find((c) => c.cmd.startsWith('kubectl apply'))!
    expect(apply.input).toBe('kind: Job\nmetadata:\n  name: tpipe-migrate\n')
    expect(cmds.at(-1)).toMatch(/rollout status statefulset\/mqreader/)
    expect(res.steps.every((s) => typeof s.durationMs === 'number')).toBe(true)
    expect(res.endpoints.api).toBe('http://localhost:8080/api/v1/gpus')
  })

  it('reuses an existing cluster, and falls back to docker save + kind load image-archive', async () => {
    const { exec, calls } = recorder((cmd) => {
      if (cmd === 'kind get clusters') return { stdout: 'tpipe\n' }
      if (cmd.startsWith('kind load docker-image')) return { exitCode: 1, stderr: 'ERROR: failed to load image: content digest sha256:abc not found' }
      return undefined
    })
    await runUp(opts(), { exec, checkTools: allToolsOk, renderer: 'silent', busyPorts: noneBusy })
    const cmds = calls.map((c) => c.cmd)
    expect(cmds.some((c) => c.startsWith('kind create'))).toBe(false)
    const save = cmds.findIndex((c) => c.startsWith('docker save --output'))
    expect(save).toBeGreaterThan(cmds.findIndex((c) => c.startsWith('kind load docker-image')))
    expect(cmds[save + 1]).toMatch(/^kind load image-archive .*tpipe-image-0\.1\.0-test\.tar --name tpipe$/)
  })

  it('a failing step stops the run and names the step, the command output and how to get the logs', async () => {
    const { exec, calls } = recorder((cmd) => (cmd.startsWith('kubectl get job') ? { exitCode: 1, stderr: 'error: the server was unable to return a response in the time allotted' } : undefined))
    const err = await runUp(opts(), { exec, checkTools: allToolsOk, renderer: 'silent', busyPorts: noneBusy }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UpFailed)
    const e = err as UpFailed
    expect(e.step).toBe('migrations')
    expect(e.message).toMatch(/failed at step "Run the migrations"/)
    expect(e.message).toMatch(/unable to return a response/)
    expect(e.message).toMatch(/kubectl --context kind-tpipe -n tpipe logs job\/tpipe-migrate/)
    expect(e.message).toMatch(/kind export logs --name tpipe/)
    expect(calls.some((c) => c.cmd.includes('rollout status deployment'))).toBe(false)
  })

  it('a failed migration Job fails the run at once, with the Job’s logs (issue 12 defect 7)', async () => {
    // A fake cluster: the Job fails (its pod exited 1), and `kubectl wait --for=condition=complete`
    // would block until its timeout, as the real one does on a Failed Job.
    const failedJob = JSON.stringify({ status: { failed: 2, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] } })
    const { exec, calls } = recorder((cmd) => {
      if (cmd.startsWith('kubectl get job ')) return { stdout: failedJob }
      if (cmd.startsWith('kubectl get pods')) return { stdout: JSON.stringify({ items: [] }) }
      if (cmd.startsWith('kubectl logs')) return { stdout: '[pod/tpipe-migrate-x/migrate] error: relation "telemetry" already exists' }
      return undefined
    })
    const hang = async (cmd: CommandSpec) => {
      const r = exec(cmd)
      return display(cmd).startsWith('kubectl wait --for=condition=complete') ? new Promise<never>(() => {}) : r
    }
    const started = Date.now()
    const outcome = await Promise.race([
      runUp(opts(), { exec: hang, checkTools: allToolsOk, renderer: 'silent', busyPorts: noneBusy, pollMs: 10 }).then(() => 'completed', (e: unknown) => e),
      new Promise((r) => setTimeout(() => r('still waiting after 3s'), 3000)),
    ])
    expect(outcome).toBeInstanceOf(UpFailed)
    expect(Date.now() - started).toBeLessThan(3000)
    const e = outcome as UpFailed
    expect(e.step).toBe('migrations')
    expect(e.message).toMatch(/BackoffLimitExceeded/)
    expect(e.message).toContain('relation "telemetry" already exists')
    expect(calls.some((c) => c.cmd.includes('rollout status deployment'))).toBe(false)
  })

  it('a migration pod that exited non-zero (or cannot start) counts as failed before the Job gives up', () => {
    const running = JSON.stringify({ status: { active: 1 } })
    const pod = (statuses: object) => JSON.stringify({ items: [{ metadata: { name: 'tpipe-migrate-abc' }, status: { phase: 'Running', ...statuses } }] })
    expect(migrationState(running, pod({ containerStatuses: [{ name: 'migrate', state: { running: {} } }] }))).toEqual({ state: 'running' })
    expect(migrationState(running, pod({ containerStatuses: [{ name: 'migrate', state: { terminated: { exitCode: 1, reason: 'Error' } } }] }))).toEqual({ state: 'failed', why: 'tpipe-migrate-abc: container migrate exited with 1 (Error)' })
    expect(migrationState(running, pod({ initContainerStatuses: [{ name: 'wait-for-postgresql', state: { waiting: { reason: 'ErrImageNeverPull' } } }] })).state).toBe('failed')
    expect(migrationState(JOB_COMPLETE, '')).toEqual({ state: 'complete' })
  })

  it('a missing tool fails at preflight, before any command', async () => {
    const { exec, calls } = recorder()
    const err = await runUp(opts(), {
      exec,
      renderer: 'silent', busyPorts: noneBusy,
      checkTools: async () => [
        { name: 'docker', ok: false, problem: 'docker not found on PATH; install Docker' },
        { name: 'kind', ok: true },
      ],
    }).catch((e: unknown) => e)
    expect((err as UpFailed).step).toBe('preflight')
    expect((err as Error).message).toMatch(/missing tools: docker/)
    expect(calls).toEqual([])
  })

  it('--dry-run runs nothing and returns the plan and the manifests', async () => {
    const { exec, calls } = recorder()
    const res = await runUp(opts({ dryRun: true }), { exec, render: async () => [{ name: 'rendered', content: 'kind: Deployment' }] })
    expect(calls).toEqual([])
    expect(res.dryRun).toBe(true)
    expect(res.manifests?.map((m) => m.name)).toEqual([join(scratch, 'kind-cluster.yaml'), 'rendered'])
    expect(res.steps.find((s) => s.id === 'image')!.commands[2]).toMatch(/# only if kind load docker-image failed$/)
  })
})

describe('the plan’s helm commands, run for real (no cluster needed)', () => {
  it('packages the staged umbrella chart and renders the migration Job that tpipe up applies', async () => {
    const o = opts({ stagingDir: join(scratch, 'real', 'charts') })
    const helm = helmBinary()!
    const exec = execaExecutor({ helm })
    const steps = planUp(o)
    copyCharts(o.stagingDir, o.root)
    for (const c of steps.find((s) => s.id === 'pipeline')!.commands.filter((x) => x.args[0] === 'dependency')) {
      const dep = await exec(c)
      expect(dep.exitCode, dep.all).toBe(0)
    }
    const render = await exec(steps.find((s) => s.id === 'migrations')!.commands.find((c) => c.tool === 'helm')!)
    expect(render.exitCode, render.all).toBe(0)
    const job = parse(render.stdout)
    expect(job).toMatchObject({ kind: 'Job', metadata: { name: 'tpipe-migrate' } })
    expect(job.spec.template.spec.containers[0]).toMatchObject({ image: 'tpipe:0.1.0-test', imagePullPolicy: 'Never', args: ['migrate', 'up', '--roles'] }) // the Job also creates the per-service database users (charts › roles)
  }, 120_000)
})

describe('--dry-run output', () => {
  it('summarises big ConfigMap values instead of printing them (the streamer’s CSV; issue 12 defect 10)', () => {
    const csv = ['timestamp,metric_name,gpu_id', ...Array.from({ length: 500 }, (_, i) => `2025-07-18T20:42:34Z,DCGM_FI_DEV_GPU_UTIL,${i}`)].join('\n')
    const manifests = `---\n# Source: streamer/templates/configmap.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: streamer-csv\ndata:\n  small: "x"\n  telemetry.csv: |-\n${csv.split('\n').map((l) => `    ${l}`).join('\n')}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: apigw\n`
    const out = summarizeBigValues(manifests)
    const docs = out.split(/^---$/m).filter((d) => d.trim()).map((d) => parse(d))
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'Service'])
    expect(docs[0].data.small).toBe('x')
    expect(docs[0].data['telemetry.csv']).toBe(`<${csv.length} characters not shown; first line: timestamp,metric_name,gpu_id>`)
    expect(out).toContain('# Source: streamer/templates/configmap.yaml')
    expect(summarizeBigValues('kind: ConfigMap\ndata:\n  a: b\n')).toBe('kind: ConfigMap\ndata:\n  a: b\n')
  })

  it('renders the charts as tpipe up installs them: no CSV rows, and with --skip-monitoring CPU-only HPAs', async () => {
    const helm = helmBinary()!
    const o = opts({ skipMonitoring: true, stagingDir: join(scratch, 'dry', 'charts') })
    const [rendered] = await renderForDryRun(helm, o, (dest) => stageCharts(helm, dest, o.root))
    const row = readFileSync(join(PACKAGE_ROOT, 'charts', 'streamer', 'files', 'telemetry.csv'), 'utf8').split('\n')[1]!
    expect(rendered!.content).not.toContain(row)
    expect(rendered!.content.length).toBeLessThan(200_000)
    const hpas = rendered!.content.split(/^---$/m).map((d) => parse(d)).filter((d) => d?.kind === 'HorizontalPodAutoscaler')
    expect(hpas.map((h) => h.metadata.name).sort()).toEqual(['mqreader', 'mqwriter'])
    for (const h of hpas) expect(h.spec.metrics.map((m: { type: string }) => m.type)).toEqual(['Resource'])
  }, 120_000)
})

describe('tpipe up / tpipe down commands', () => {
  it('`tpipe up --dry-run --json` prints the ordered plan and the rendered charts, without any cluster tool', async () => {
    const r = await run(['up', '--dry-run', '--json', '--image-tag', '0.1.0-test', '--name', 'plan'], { ...process.env, PATH: join(scratch, 'no-tools') })
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.steps.map((s: { id: string }) => s.id)).toEqual(['preflight', 'cluster', 'image', 'metrics-server', 'prometheus', 'prometheus-adapter', 'pipeline', 'postgresql', 'migrations', 'ready'])
    expect(out.image).toBe('tpipe:0.1.0-test')
    expect(out.context).toBe('kind-plan')
    const rendered = out.manifests.find((m: { name: string }) => m.name.startsWith('helm template'))
    expect(rendered.content).toMatch(/kind: StatefulSet\n/)
    expect(rendered.content).toContain('image: "tpipe:0.1.0-test"')
    expect(parse(out.manifests[0].content).nodes[0].image).toMatch(/^kindest\/node:v[\d.]+@sha256:[0-9a-f]{64}$/)
  }, 120_000)

  it('`tpipe up` with a PATH that lacks the tools fails at preflight with a clear message', async () => {
    const r = await run(['up', '--name', 'nothing'], { ...process.env, PATH: join(scratch, 'no-tools') })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/failed at step "Check docker, kind, helm and kubectl"/)
    expect(r.stderr).toMatch(/missing tools: docker, kind/)
    expect(r.stderr).toMatch(/install Docker Engine or Docker Desktop/)
    expect(r.stderr).toMatch(/install kind: https:\/\/kind\.sigs\.k8s\.io/)
  }, 120_000)

  it('`tpipe down` without kind says what to install', async () => {
    const r = await run(['down'], { ...process.env, PATH: join(scratch, 'no-tools') })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/missing tools: kind/)
  }, 120_000)
})

describe('runDown', () => {
  it('succeeds when there is no cluster, without deleting anything', async () => {
    const { exec, calls } = recorder(() => ({ stdout: 'No kind clusters found.\n' }))
    expect(await runDown('tpipe', exec)).toMatchObject({ deleted: false })
    expect(calls.map((c) => c.cmd)).toEqual(['kind get clusters'])
  })

  it('deletes the cluster when it exists', async () => {
    const { exec, calls } = recorder((cmd) => (cmd === 'kind get clusters' ? { stdout: 'a\ntpipe\n' } : undefined))
    expect(await runDown('tpipe', exec)).toMatchObject({ deleted: true })
    expect(calls.map((c) => c.cmd)).toEqual(['kind get clusters', 'kind delete cluster --name tpipe'])
  })

  it('reports a failing kind with its output', async () => {
    const { exec } = recorder(() => ({ exitCode: 1, stderr: 'Cannot connect to the Docker daemon' }))
    await expect(runDown('tpipe', exec)).rejects.toThrow(/Cannot connect to the Docker daemon/)
  })
})
