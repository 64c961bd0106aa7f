import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { cliClusterError } from '../cli/cluster.js'
import { ClusterUnavailableError, connectCluster, explainClusterError } from './index.js'

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://10.0.0.1:6443" } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: kind-a, context: { cluster: c, user: u, namespace: ns-a } }]
current-context: kind-a
`

describe('kube access', () => {
  it('resolves context and namespace from a kubeconfig, --namespace first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tpipe-kube-'))
    const path = join(dir, 'config')
    writeFileSync(path, KUBECONFIG)
    expect(connectCluster({ kubeconfig: path }, {})).toMatchObject({ context: 'kind-a', namespace: 'ns-a', server: 'https://10.0.0.1:6443' })
    expect(connectCluster({ kubeconfig: path, namespace: 'x' }, {}).namespace).toBe('x')
  })

  it('a service gets the reason without CLI wording; the CLI adds its sentence and suggestions', () => {
    // The controller and mqreader run in pods: "no `tpipe dev` instance is running" means nothing there.
    const err = (() => {
      try {
        return connectCluster({}, { HOME: mkdtempSync(join(tmpdir(), 'tpipe-nohome-')) })
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(ClusterUnavailableError)
    const message = (err as Error).message
    expect(message).toMatch(/^no Kubernetes cluster is reachable: no kubeconfig/)
    expect(message).not.toMatch(/`tpipe (dev|up)`/)
    const cli = cliClusterError(err)!
    expect(cli.exit).toBe(3)
    expect(cli.message).toBe(`no \`tpipe dev\` instance is running and ${message}`)
    expect(cli.suggestions.join(' ')).toContain('tpipe up')
  })

  it('explains a refused connection by naming the server and context; other errors pass through', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' })
    const explained = explainClusterError(refused, { server: 'https://10.0.0.1:6443', context: 'kind-a' })
    expect(explained).toBeInstanceOf(ClusterUnavailableError)
    expect((explained as Error).message).toBe('no Kubernetes cluster is reachable: the API server at https://10.0.0.1:6443 (context kind-a) does not answer (ECONNREFUSED)')
    const other = new Error('boom')
    expect(explainClusterError(other, { server: 's', context: undefined })).toBe(other)
  })
})
