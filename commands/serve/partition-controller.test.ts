// `tpipe serve partition-controller` as the container runs it (a child process through bin/dev.js)
// against the API fake: it elects itself, writes the assignment, and releases the Lease on SIGTERM.
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startKubeFake, type KubeFake } from '../../test/support/kube-fake.js'
import { waitFor } from '../../src/util/async.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const NS = 'tpipe'
let fake: KubeFake
let home: string

beforeAll(async () => {
  fake = await startKubeFake()
  home = mkdtempSync(join(tmpdir(), 'tpipe-ctl-'))
  fake.put('statefulset', { metadata: { name: 'mqreader', namespace: NS }, spec: { replicas: 4 } })
})
afterAll(async () => {
  await fake.close()
})

describe('tpipe serve partition-controller', () => {
  it('as a process: becomes leader, writes the assignment, and releases the Lease on SIGTERM', { timeout: 60_000 }, async () => {
    const kubeconfig = join(home, 'kubeconfig-ctl')
    writeFileSync(kubeconfig, fake.kubeconfigYaml({ token: 'ctl-process', namespace: NS }))
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bin/dev.js'), 'serve', 'partition-controller', '--port', '0', '--host', '127.0.0.1'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        KUBECONFIG: kubeconfig,
        TPIPE_CONTROLLER_IDENTITY: 'ctl-process',
        TPIPE_CONTROLLER_DEBOUNCE_MS: '50',
        TPIPE_CONTROLLER_LEASE_DURATION_MS: '2000',
        TPIPE_CONTROLLER_RENEW_DEADLINE_MS: '1500',
        TPIPE_CONTROLLER_RETRY_PERIOD_MS: '200',
        TPIPE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (d) => (output += String(d)))
    child.stderr.on('data', (d) => (output += String(d)))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      await waitFor(() => fake.get('configmap', NS, 'mqreader-partitions'), { timeoutMs: 30_000, what: `the ConfigMap (output: ${output})` })
      const text = fake.get('configmap', NS, 'mqreader-partitions')!.data['partitions.json'] as string
      expect(JSON.parse(text)).toMatchObject({ generation: 1, replicas: 4 })
      expect(fake.get('lease', NS, 'partition-controller')!.spec.holderIdentity).toBe('ctl-process')
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited).toBe(0)
    expect(fake.get('lease', NS, 'partition-controller')!.spec.holderIdentity).toBe('')
  })
})
