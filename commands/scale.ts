import { Args, Flags } from '@oclif/core'
import { TpipeCommand } from '../src/cli/base.js'
import { settingFlags } from '../src/cli/flags.js'
import { cliClusterError } from '../src/cluster/kube.js'
import { SCALABLE_SERVICES, ScaleError, formatScaleResult, scaleOnCluster, type ScaleResult } from '../src/cluster/scale.js'

const cluster = settingFlags('partition-controller')

export default class Scale extends TpipeCommand {
  static override summary = 'Set the replica count of a service (on the Kubernetes cluster of the current or given context).'
  static override description =
    'Patches the scale subresource of the service’s Deployment (mqreader: StatefulSet). When a HorizontalPodAutoscaler manages it, says so; --pin sets the HPA’s min and max to the same count so the change sticks.'
  static override examples = ['<%= config.bin %> scale mqreader 4', '<%= config.bin %> scale mqwriter 3 --pin --context kind-tpipe --namespace tpipe']
  static override enableJsonFlag = true
  static override args = {
    service: Args.string({ description: `service to scale: ${SCALABLE_SERVICES.join(', ')}`, required: true, options: SCALABLE_SERVICES }),
    replicas: Args.integer({ description: 'replica count', required: true, min: 0 }),
  }
  static override flags = {
    namespace: cluster.namespace!,
    context: cluster.context!,
    kubeconfig: cluster.kubeconfig!,
    'name-prefix': Flags.string({ description: 'prefix of the object names when the release names them <prefix>-mqreader etc.' }),
    pin: Flags.boolean({ description: 'when an HPA manages the workload, set its minReplicas = maxReplicas = n', default: false }),
  }

  async run(): Promise<ScaleResult> {
    const { args, flags } = await this.parse(Scale)
    const config = this.loadConfigFrom({ namespace: flags.namespace, context: flags.context, kubeconfig: flags.kubeconfig }, 'cli')
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
      if (err instanceof ScaleError) this.error(err.message, { exit: 2 })
      const e = cliClusterError(err)
      if (e) this.error(e.message, { exit: e.exit, suggestions: e.suggestions })
      throw err
    }
  }
}
