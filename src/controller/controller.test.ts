// partition-controller against the recorded-contract API fake (test/support/kube-fake.ts): the real
// @kubernetes/client-node talks HTTP to it. Timings are small (lease 1 s) and every wait polls.
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/index.js'
import { Registry } from '../metrics/index.js'
import { assignmentsOf, plan, replicaNames } from '../partitions/index.js'
import { startKubeFake, type KubeFake } from '../../test/support/kube-fake.js'
import { waitFor } from '../util/async.js'
import { buildPartitionController } from './app.js'
import { ASSIGNMENT_KEY, parseAssignmentDoc, type AssignmentDoc } from '../protocol/assignment.js'
import { PartitionController, RESTARTED_AT } from './controller.js'

const NS = 'tpipe'
const log = pino({ level: 'silent' })
// Generous against a starved event loop (2 shared cores): a stall shorter than the renew deadline changes nothing.
const TIMING = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 100, debounceMs: 100, relistIntervalMs: 30_000 }

let fake: KubeFake
const controllers: PartitionController[] = []

function controller(identity: string, opts: Partial<ConstructorParameters<typeof PartitionController>[0]> = {}): PartitionController {
  const c = new PartitionController({
    kubeConfig: fake.kubeConfig({ token: identity, namespace: NS }),
    namespace: NS,
    statefulSet: 'mqreader',
    configMap: 'mqreader-partitions',
    leaseName: 'partition-controller',
    identity,
    restartOnChange: false,
    log,
    registry: new Registry(),
    ...TIMING,
    ...opts,
  })
  controllers.push(c)
  c.start()
  return c
}

function doc(): AssignmentDoc | undefined {
  const text = fake.get('configmap', NS, 'mqreader-partitions')?.data?.[ASSIGNMENT_KEY] as string | undefined
  return text === undefined ? undefined : parseAssignmentDoc(text)
}

const leaders = () => controllers.filter((c) => c.isLeader())
const configMapWrites = (token?: string) =>
  fake.requests.filter((r) => r.path.includes('/configmaps') && r.method !== 'GET' && (token === undefined || r.token === token))

beforeEach(async () => {
  fake = await startKubeFake({ namespace: NS })
  fake.put('statefulset', { metadata: { name: 'mqreader', namespace: NS }, spec: { replicas: 2, template: { metadata: {} } } })
})

afterEach(async () => {
  await Promise.all(controllers.splice(0).map((c) => c.stop({ release: false })))
  await fake.close()
})

describe('leader election', () => {
  it('two controllers: exactly one leader, and the Lease names it with MicroTime times', async () => {
    const a = controller('ctl-a')
    const b = controller('ctl-b')
    await waitFor(() => leaders().length === 1, { what: 'one leader' })
    // Several renew rounds later there is still exactly one, and it is the Lease holder.
    const seen = new Set<number>()
    const until = Date.now() + 800
    while (Date.now() < until) {
      seen.add(leaders().length)
      await new Promise((r) => setTimeout(r, 20))
    }
    expect([...seen]).toEqual([1])
    const leader = a.isLeader() ? 'ctl-a' : 'ctl-b'
    const lease = fake.get('lease', NS, 'partition-controller')!
    expect(lease.spec.holderIdentity).toBe(leader)
    expect(lease.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
    expect(lease.spec.leaseDurationSeconds).toBe(2)
    // Renewals are replaces carrying the resourceVersion that was read (optimistic concurrency).
    const puts = fake.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/leases/partition-controller') && r.status === 200)
    expect(puts.length).toBeGreaterThan(0)
    for (const p of puts) expect((p.body as { metadata: { resourceVersion?: string } }).metadata.resourceVersion).toMatch(/^\d+$/)
    expect(b.status().leaseHolder).toBe(leader)
  })

  it('a follower never writes the ConfigMap or the StatefulSet, and none of its Lease writes succeed', async () => {
    const a = controller('ctl-a')
    await waitFor(() => a.isLeader(), { what: 'a leads' })
    const b = controller('ctl-b')
    await waitFor(() => doc()?.generation === 1, { what: 'generation 1' })
    fake.setReplicas('statefulset', NS, 'mqreader', 3)
    await waitFor(() => doc()?.generation === 2, { what: 'generation 2' })
    fake.setReplicas('statefulset', NS, 'mqreader', 5)
    await waitFor(() => doc()?.generation === 3, { what: 'generation 3' })
    expect(b.isLeader()).toBe(false)
    // The follower did read (it watches and campaigns) …
    expect(fake.requests.some((r) => r.token === 'ctl-b' && r.path.includes('/statefulsets'))).toBe(true)
    expect(fake.requests.some((r) => r.token === 'ctl-b' && r.path.includes('/leases'))).toBe(true)
    // … but wrote nothing.
    expect(configMapWrites('ctl-b')).toEqual([])
    expect(fake.writesBy('ctl-b').filter((r) => r.status < 400)).toEqual([])
    expect(configMapWrites('ctl-a').length).toBe(3)
  })

  it('the leader dies without releasing: the other takes over after the lease duration', async () => {
    const a = controller('ctl-a')
    await waitFor(() => a.isLeader(), { what: 'a leads' })
    const b = controller('ctl-b')
    await waitFor(() => doc()?.generation === 1, { what: 'generation 1' })
    // A crash: stop renewing, leave the Lease as it is.
    const died = Date.now()
    await a.stop({ release: false })
    expect(a.isLeader()).toBe(false)
    expect(fake.get('lease', NS, 'partition-controller')!.spec.holderIdentity).toBe('ctl-a')
    await waitFor(() => b.isLeader(), { what: 'b takes over' })
    const tookOver = Date.now() - died
    // b may only take over once the Lease has gone unrenewed for a lease duration (it last saw a renewal
    // at most one retry period before a died).
    expect(tookOver).toBeGreaterThanOrEqual(TIMING.leaseDurationMs - TIMING.retryPeriodMs - 50)
    const lease = fake.get('lease', NS, 'partition-controller')!
    expect(lease.spec.holderIdentity).toBe('ctl-b')
    expect(lease.spec.leaseTransitions).toBe(1)
    // The new leader acts: a change after the takeover is written by b.
    fake.setReplicas('statefulset', NS, 'mqreader', 4)
    await waitFor(() => doc()?.generation === 2, { what: 'generation 2 by b' })
    expect(configMapWrites('ctl-b').length).toBe(1)
  })

  it('a graceful stop releases the Lease so the standby takes over without waiting for expiry', async () => {
    const a = controller('ctl-a', { leaseDurationMs: 10_000, renewDeadlineMs: 6000 })
    await waitFor(() => a.isLeader(), { what: 'a leads' })
    const b = controller('ctl-b', { leaseDurationMs: 10_000, renewDeadlineMs: 6000 })
    await waitFor(() => b.status().leaseHolder === 'ctl-a', { what: 'b sees a' })
    await a.stop({ release: true })
    expect(fake.get('lease', NS, 'partition-controller')!.spec.holderIdentity).toBe('')
    await waitFor(() => b.isLeader(), { what: 'b takes over', timeoutMs: 3000 })
  })

  it('a leader that sees another holder in the Lease stops acting at once', async () => {
    const slow = { leaseDurationMs: 5000, renewDeadlineMs: 3000 }
    const a = controller('ctl-a', slow)
    await waitFor(() => a.isLeader(), { what: 'a leads' })
    await waitFor(() => doc()?.generation === 1, { what: 'generation 1' })
    const lease = fake.get('lease', NS, 'partition-controller')!
    fake.put('lease', { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', renewTime: new Date().toISOString().replace('Z', '000Z') } })
    await waitFor(() => !a.isLeader(), { what: 'a steps down' })
    const writesBefore = configMapWrites('ctl-a').length
    fake.setReplicas('statefulset', NS, 'mqreader', 4)
    await new Promise((r) => setTimeout(r, 400)) // several debounce periods: a leader would have written
    expect(configMapWrites('ctl-a').length).toBe(writesBefore)
    expect(doc()?.generation).toBe(1)
  })

  it('a 409 on the Lease renew means lost: the leader steps down at once', async () => {
    const a = controller('ctl-a')
    await waitFor(() => a.isLeader(), { what: 'a leads' })
    expect(a.elector.stepDowns).toBe(0)
    fake.failNext({ method: 'PUT', pathIncludes: '/leases/partition-controller' }, 409)
    await waitFor(() => a.elector.stepDowns === 1, { what: 'a steps down' })
    expect(fake.requests.some((r) => r.token === 'ctl-a' && r.method === 'PUT' && r.path.includes('/leases') && r.status === 409)).toBe(true)
  })
})

describe('assignments', () => {
  it('replicas 2 → 4 → 3: one new generation each, planned from the previous assignment', async () => {
    const a = controller('ctl-a')
    await waitFor(() => doc()?.generation === 1, { what: 'generation 1' })
    expect(doc()).toEqual({ generation: 1, replicas: 2, assignments: { 'mqreader-0': '0-127', 'mqreader-1': '128-255' } })
    const created = fake.requests.find((r) => r.method === 'POST' && r.path === `/api/v1/namespaces/${NS}/configmaps`)
    expect(created?.status).toBe(201)

    fake.setReplicas('statefulset', NS, 'mqreader', 4)
    await waitFor(() => doc()?.generation === 2, { what: 'generation 2' })
    // Minimal moves: each old reader keeps half of what it had.
    expect(doc()).toEqual({
      generation: 2,
      replicas: 4,
      assignments: { 'mqreader-0': '0-63', 'mqreader-1': '128-191', 'mqreader-2': '64-127', 'mqreader-3': '192-255' },
    })

    fake.setReplicas('statefulset', NS, 'mqreader', 3)
    await waitFor(() => doc()?.generation === 3, { what: 'generation 3' })
    const prev = { 'mqreader-0': { start: 0, end: 63 }, 'mqreader-1': { start: 128, end: 191 }, 'mqreader-2': { start: 64, end: 127 }, 'mqreader-3': { start: 192, end: 255 } }
    const expected = assignmentsOf(plan(replicaNames('mqreader', 3), prev))
    expect(doc()).toEqual({ generation: 3, replicas: 3, assignments: expected })
    expect(Object.keys(expected).sort()).toEqual(['mqreader-0', 'mqreader-1', 'mqreader-2'])

    // Updates were replaces carrying the resourceVersion that was read.
    const puts = configMapWrites('ctl-a').filter((r) => r.method === 'PUT')
    expect(puts).toHaveLength(2)
    for (const p of puts) expect((p.body as { metadata: { resourceVersion?: string } }).metadata.resourceVersion).toMatch(/^\d+$/)
    // The controller records the generation once the API server's answer to its write is handled: a tick
    // after the fake stored it (read at once, it was 2 in one CI run).
    await waitFor(() => a.status().generation === 3, { what: 'the controller to record generation 3' })
    expect(a.status()).toMatchObject({ leader: true, replicas: 3, generation: 3 })
  })

  it('a burst of replica changes is debounced into one write', async () => {
    controller('ctl-a', { debounceMs: 500 })
    await waitFor(() => doc()?.generation === 1, { what: 'generation 1' })
    // Three changes pushed in one go (the fake writes their watch events at once).
    fake.setReplicas('statefulset', NS, 'mqreader', 3)
    fake.setReplicas('statefulset', NS, 'mqreader', 4)
    fake.setReplicas('statefulset', NS, 'mqreader', 5)
    await waitFor(() => doc()?.replicas === 5, { what: 'replicas 5 written' })
    expect(doc()?.generation).toBe(2)
    expect(configMapWrites()).toHaveLength(2) // the create and one replace
  })

  it('a relist or an unrelated StatefulSet change does not bump the generation', async () => {
    const a = controller('ctl-a')
    await waitFor(() => doc()?.generation === 1, { what: 'generation 1' })
    const sts = fake.get('statefulset', NS, 'mqreader')!
    fake.put('statefulset', { ...sts, metadata: { ...sts.metadata, labels: { touched: 'yes' } } })
    await waitFor(() => a.lastResult === 'unchanged', { what: 'an unchanged reconcile' })
    expect(doc()?.generation).toBe(1)
    expect(configMapWrites()).toHaveLength(1)
  })

  it('a 409 on the ConfigMap replace is retried with a fresh read', async () => {
    controller('ctl-a')
    await waitFor(() => doc()?.generation === 1, { what: 'generation 1' })
    fake.failNext({ method: 'PUT', pathIncludes: '/configmaps/mqreader-partitions' }, 409, { times: 2 })
    fake.setReplicas('statefulset', NS, 'mqreader', 4)
    await waitFor(() => doc()?.generation === 2, { what: 'generation 2 after conflicts' })
    const puts = configMapWrites().filter((r) => r.method === 'PUT')
    expect(puts.map((r) => r.status)).toEqual([409, 409, 200])
    // Each retry read the ConfigMap again first.
    const cmTrail = fake.requests.filter((r) => r.path.endsWith('/configmaps/mqreader-partitions')).map((r) => `${r.method} ${r.status}`)
    expect(cmTrail.slice(-6)).toEqual(['GET 200', 'PUT 409', 'GET 200', 'PUT 409', 'GET 200', 'PUT 200'])
  })

  it('a real conflict (someone else wrote the ConfigMap meanwhile) keeps their generation and goes one past it', async () => {
    controller('ctl-a')
    await waitFor(() => doc()?.generation === 1, { what: 'generation 1' })
    // Another writer bumps the document to generation 7 (e.g. an operator); the next write builds on it.
    const cm = fake.get('configmap', NS, 'mqreader-partitions')!
    fake.put('configmap', { ...cm, data: { [ASSIGNMENT_KEY]: JSON.stringify({ generation: 7, replicas: 2, assignments: { 'mqreader-0': '0-127', 'mqreader-1': '128-255' } }) } })
    fake.setReplicas('statefulset', NS, 'mqreader', 4)
    await waitFor(() => doc()?.generation === 8, { what: 'generation 8' })
    expect(doc()?.replicas).toBe(4)
  })

  it('a closed watch is reopened, and changes after it are seen', async () => {
    const a = controller('ctl-a')
    await waitFor(() => doc()?.generation === 1 && fake.openWatches('statefulset') === 1, { what: 'watching' })
    const opened = a.watch.watches
    expect(fake.endWatches('statefulset')).toBe(1)
    await waitFor(() => a.watch.watches > opened && fake.openWatches('statefulset') === 1, { what: 'watch reopened' })
    const watchRequests = fake.requests.filter((r) => r.path === `/apis/apps/v1/namespaces/${NS}/statefulsets` && r.query.watch === 'true')
    expect(watchRequests.length).toBeGreaterThanOrEqual(2)
    for (const w of watchRequests) expect(w.query.fieldSelector).toBe('metadata.name=mqreader')
    fake.setReplicas('statefulset', NS, 'mqreader', 6)
    await waitFor(() => doc()?.generation === 2 && doc()?.replicas === 6, { what: 'change after reopen' })
  })

  it('a silent watch is replaced by the periodic relist (and history compaction does not lose changes)', async () => {
    const a = controller('ctl-a', { relistIntervalMs: 300 })
    await waitFor(() => doc()?.generation === 1, { what: 'generation 1' })
    fake.compactHistory()
    const lists = a.watch.lists
    await waitFor(() => a.watch.lists > lists + 1, { what: 'relists' })
    fake.setReplicas('statefulset', NS, 'mqreader', 3)
    await waitFor(() => doc()?.replicas === 3, { what: 'change seen' })
  })

  it('a watch answered with 410 Gone relists and watches again', async () => {
    const a = controller('ctl-a')
    await waitFor(() => doc()?.generation === 1 && fake.openWatches('statefulset') === 1, { what: 'watching' })
    const lists = a.watch.lists
    fake.goneNext('statefulset')
    fake.endWatches('statefulset')
    // ended → list → watch (410) → list → watch
    await waitFor(() => a.watch.lists >= lists + 2 && fake.openWatches('statefulset') === 1, { what: 'relisted after 410' })
    fake.setReplicas('statefulset', NS, 'mqreader', 3)
    await waitFor(() => doc()?.replicas === 3, { what: 'change seen' })
  })

  it('--restart-on-change merge-patches the pod template restartedAt annotation', async () => {
    controller('ctl-a', { restartOnChange: true })
    await waitFor(() => doc()?.generation === 1, { what: 'generation 1' })
    const patch = await waitFor(() => fake.requests.find((r) => r.method === 'PATCH' && r.path.endsWith('/statefulsets/mqreader')), { what: 'patch' })
    expect(patch!.contentType).toBe('application/merge-patch+json')
    expect(patch!.status).toBe(200)
    const at = fake.get('statefulset', NS, 'mqreader')!.spec.template.metadata.annotations[RESTARTED_AT]
    expect(Number.isNaN(Date.parse(at))).toBe(false)
    // The annotation is on the pod template, not on the StatefulSet's own metadata (that would do nothing).
    expect(fake.get('statefulset', NS, 'mqreader')!.metadata.annotations?.[RESTARTED_AT]).toBeUndefined()
  })
})

describe('service', () => {
  it('serves /healthz, /readyz and the partition_controller_* metrics', async () => {
    const config = loadConfig({}, { TPIPE_NAMESPACE: NS, TPIPE_CONTROLLER_IDENTITY: 'svc-a', TPIPE_DEFAULT_METRICS: 'false', TPIPE_CONTROLLER_LEASE_DURATION_MS: '2000', TPIPE_CONTROLLER_RENEW_DEADLINE_MS: '1500', TPIPE_CONTROLLER_RETRY_PERIOD_MS: '100', TPIPE_CONTROLLER_DEBOUNCE_MS: '50' }, 'partition-controller')
    const service = buildPartitionController(config, { logger: log, kubeConfig: fake.kubeConfig({ token: 'svc-a', namespace: NS }) })
    const { app } = service
    service.start()
    try {
      expect((await app.inject('/healthz')).statusCode).toBe(200)
      await waitFor(async () => (await app.inject('/readyz')).statusCode === 200, { what: 'ready' })
      await waitFor(() => doc()?.generation === 1, { what: 'generation 1' })
      const text = (await app.inject('/metrics')).body
      expect(text).toMatch(/^partition_controller_is_leader 1$/m)
      expect(text).toMatch(/^partition_controller_generation 1$/m)
      expect(text).toMatch(/^partition_controller_reconciles_total\{result="written"\} 1$/m)
      const status = (await app.inject('/v1/status')).json()
      expect(status).toMatchObject({ identity: 'svc-a', leader: true, replicas: 2, generation: 1 })
    } finally {
      await app.close()
    }
    // close() released the Lease.
    expect(fake.get('lease', NS, 'partition-controller')!.spec.holderIdentity).toBe('')
  })

  it('refuses a renew deadline that is not below the lease duration', () => {
    expect(() => controller('bad', { leaseDurationMs: 1000, renewDeadlineMs: 1000 })).toThrow(/RENEW_DEADLINE/)
  })
})
