import { Args, Flags } from '@oclif/core'
import { TpipeCommand } from '../src/cli/base.js'
import { settingFlags } from '../src/cli/flags.js'
import { cliClusterError } from '../src/cli/cluster.js'
import { ClusterUnavailableError } from '../src/kube/index.js'
import { SCALABLE_SERVICES, ScaleError, formatScaleResult, scaleOnCluster, type ScaleResult } from '../src/cluster/scale.js'
import { replicaProblem } from '../src/cli/replicas.js'
import { findLocalInstance } from '../src/local/client.js'
import { SCALABLE as LOCAL_SCALABLE } from '../src/local/status.js'
import type { ScaleResult as LocalScaleResult } from '../src/local/supervisor.js'
import type { ServiceName } from '../src/config/types.js'

const cluster = settingFlags('partition-controller')
const cli = settingFlags('cli')

export default class Scale extends TpipeCommand {
  static override summary = 'Set the replica count of a service: on the running `tpipe dev` instance, else on the Kubernetes cluster of the current or given context.'
  static override description =
    'Patches the scale subresource of the service’s Deployment (mqreader: StatefulSet). When a HorizontalPodAutoscaler manages it, says so; --pin sets the HPA’s min and max to the same count so the change sticks.'
  static override examples = ['<%= config.bin %> scale mqreader 4', '<%= config.bin %> scale mqwriter 3 --pin --context kind-tpipe --namespace tpipe']
  static override enableJsonFlag = true
  static override args = {
    service: Args.string({ description: `service to scale: ${SCALABLE_SERVICES.join(', ')}`, required: true, options: SCALABLE_SERVICES }),
    replicas: Args.string({ description: 'replica count: a whole number from 0 to 64 (mqreader: from 1)', required: true }),
  }
  static override flags = {
    namespace: cluster.namespace!,
    context: cluster.context!,
    kubeconfig: cluster.kubeconfig!,
    'name-prefix': Flags.string({ description: 'prefix of the object names when the release names them <prefix>-mqreader etc.' }),
    home: cli.home!,
    target: Flags.string({ description: 'where to scale: auto (a running tpipe dev instance, else the cluster), local or cluster', options: ['auto', 'local', 'cluster'], default: 'auto' }),
    pin: Flags.boolean({ description: 'when an HPA manages the workload, set its minReplicas = maxReplicas = n', default: false }),
  }

  async run(): Promise<ScaleResult | ({ target: 'local' } & LocalScaleResult)> {
    const { args: raw, flags } = await this.parse(Scale)
    const problem = replicaProblem(raw.service, raw.replicas)
    if (problem) this.fail(problem, 'TPIPE_ERR_USAGE')
    const args = { service: raw.service, replicas: Number(raw.replicas) }
    const config = this.loadConfigFrom({ namespace: flags.namespace, context: flags.context, kubeconfig: flags.kubeconfig, home: flags.home }, 'cli')
    if (flags.target !== 'cluster') {
      const local = await findLocalInstance(config.home)
      if (local && !LOCAL_SCALABLE.includes(args.service as ServiceName)) {
        this.fail(`the tpipe dev instance (pid ${local.state.pid}) cannot scale ${args.service}: it runs a fixed number (tpipe dev --scrapers); scale it on a cluster with --target cluster`, 'TPIPE_ERR_USAGE')
      }
      if (local) {
        try {
          const t0 = Date.now()
          const r = await local.scale(args.service, args.replicas, (m) => (this.jsonEnabled() ? this.logToStderr(`  … ${m}`) : this.log(`  … ${m}`)))
          this.log(`${r.service}: ${r.from} → ${r.to} replicas on the tpipe dev instance (pid ${local.state.pid}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
          for (const m of r.moves) this.log(`  ${m}`)
          if (r.service !== 'mqreader' && r.to > r.from) for (const u of r.urls.slice(r.from)) this.log(`  new ${r.service}: ${u}`)
          return { target: 'local', ...r }
        } catch (err) {
          this.fail((err as Error).message, 'TPIPE_ERR_FAILED', 2)
        }
      }
      if (flags.target === 'local') this.fail(`no tpipe dev instance is running under ${config.home} (start one with \`tpipe dev\`)`, 'TPIPE_ERR_NOT_RUNNING')
    }
    try {
      const result = await scaleOnCluster({
        service: args.service,
        replicas: args.replicas,
        pin: flags.pin,
        namespace: config.namespace,
        context: config.kubeContext,
        kubeconfig: config.kubeconfig,
        namePrefix: flags['name-prefix'],
      })
      this.log(formatScaleResult(result))
      return result
    } catch (err) {
      if (err instanceof ScaleError) this.fail(err.message, 'TPIPE_ERR_USAGE')
      // With --target cluster the dev instance does not matter: name only what is missing.
      if (err instanceof ClusterUnavailableError && flags.target === 'cluster') this.fail(`no Kubernetes cluster is reachable: ${err.reason}`, 'TPIPE_ERR_UNREACHABLE', 3)
      const e = cliClusterError(err)
      if (e) this.error(e.message, { exit: e.exit, suggestions: e.suggestions })
      throw err
    }
  }
}
