import { Flags } from '@oclif/core'
import { TpipeCommand } from '../src/cli/base.js'
import { settingFlags } from '../src/cli/flags.js'
import { cliClusterError } from '../src/cli/cluster.js'
import { ClusterUnavailableError } from '../src/kube/index.js'
import { clusterStatus, formatClusterStatus, type ClusterStatus } from '../src/cluster/status.js'
import { findLocalInstance } from '../src/local/client.js'
import type { DevStatus } from '../src/local/supervisor.js'
import { renderStatus } from '../src/local/view.js'

const cluster = settingFlags('partition-controller')
const cli = settingFlags('cli')

export default class Status extends TpipeCommand {
  static override summary = 'Show the pipeline’s state: of the running `tpipe dev` instance, else of the cluster (replicas, controller leader and generation, each reader’s partitions and buffer use, each scraper’s targets and their health).'
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --context kind-tpipe --namespace tpipe --json']
  static override enableJsonFlag = true
  static override flags = {
    namespace: cluster.namespace!,
    context: cluster.context!,
    kubeconfig: cluster.kubeconfig!,
    configmap: cluster.configmap!,
    'lease-name': cluster['lease-name']!,
    'name-prefix': Flags.string({ description: 'prefix of the object names when the release names them <prefix>-mqreader etc.' }),
    home: cli.home!,
    target: Flags.string({ description: 'whose status: auto (a running tpipe dev instance, else the cluster), local or cluster', options: ['auto', 'local', 'cluster'], default: 'auto' }),
    'reader-metrics': Flags.boolean({ description: 'read each reader’s buffer utilization through the API server’s pod proxy', default: true, allowNo: true }),
    'reader-port': Flags.integer({ description: 'HTTP port of the mqreader pods (for their /metrics)', default: 8080 }),
    'scraper-targets': Flags.boolean({ description: 'read each scraper pod’s targets and their health (GET /v1/targets) through the API server’s pod proxy, when the scraper is installed', default: true, allowNo: true }),
  }

  async run(): Promise<ClusterStatus | (DevStatus & { target: 'local' })> {
    const { flags } = await this.parse(Status)
    const config = this.loadConfigFrom(
      { namespace: flags.namespace, context: flags.context, kubeconfig: flags.kubeconfig, configmap: flags.configmap, 'lease-name': flags['lease-name'], home: flags.home },
      'cli',
    )
    if (flags.target !== 'cluster') {
      const local = await findLocalInstance(config.home)
      if (local) {
        const s = await local.status()
        this.log(`tpipe dev (pid ${local.state.pid}, since ${local.state.startedAt})\n`)
        this.log(renderStatus(s))
        return { target: 'local', ...s }
      }
      if (flags.target === 'local') this.fail(`no tpipe dev instance is running under ${config.home} (start one with \`tpipe dev\`)`, 'TPIPE_ERR_NOT_RUNNING')
    }
    try {
      const status = await clusterStatus({
        namespace: config.namespace,
        context: config.kubeContext,
        kubeconfig: config.kubeconfig,
        namePrefix: flags['name-prefix'],
        configMap: config.controllerConfigMap,
        leaseName: config.controllerLeaseName,
        metrics: flags['reader-metrics'],
        readerPort: flags['reader-port'],
        scrapers: flags['scraper-targets'],
      })
      this.log(formatClusterStatus(status))
      return status
    } catch (err) {
      // With --target cluster the dev instance does not matter: name only what is missing.
      if (err instanceof ClusterUnavailableError && flags.target === 'cluster') this.fail(`no Kubernetes cluster is reachable: ${err.reason}`, 'TPIPE_ERR_UNREACHABLE', 3)
      const e = cliClusterError(err)
      if (e) this.error(e.message, { exit: e.exit, suggestions: e.suggestions })
      throw err
    }
  }
}
