// `tpipe up --grafana`: the plan installs the pinned official chart into the pipeline's namespace with
// values that fit the rest: the data source uids the dashboard's variables default to, the sidecar label
// the umbrella chart puts on the dashboard ConfigMap, the PostgreSQL Secret the postgresql chart writes,
// the Prometheus the adapter reads, and a NodePort kind publishes.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { PG_TYPE, PG_UID, PROM_UID } from '../grafana/dashboard.js'
import { loginName } from '../db/roles.js'
import { PACKAGE_ROOT } from '../paths.js'
import { GRAFANA, GRAFANA_URL, defaultUpOptions, planUp } from './up.js'

/* eslint-disable @typescript-eslint/no-explicit-any -- YAML files */
const yaml = (p: string): any => parse(readFileSync(join(PACKAGE_ROOT, p), 'utf8'))

describe('tpipe up --grafana', () => {
  const opts = defaultUpOptions({ imageTag: '0.1.0-test', root: PACKAGE_ROOT })

  it('adds one Grafana step, last, only with --grafana: the pinned chart, into the pipeline namespace, waited for', () => {
    expect(planUp(opts).some((s) => s.id === 'grafana')).toBe(false)
    const steps = planUp({ ...opts, grafana: true })
    const last = steps[steps.length - 1]!
    expect(last.id).toBe('grafana')
    const args = last.commands[0]!.args
    expect(args.slice(0, 4)).toEqual(['upgrade', '--install', 'grafana', 'grafana'])
    expect(args[args.indexOf('--repo') + 1]).toBe('https://grafana-community.github.io/helm-charts')
    expect(args[args.indexOf('--version') + 1]).toMatch(/^\d+\.\d+\.\d+$/)
    expect(args[args.indexOf('--namespace') + 1]).toBe(opts.namespace)
    expect(args).toContain('--wait')
    expect(args[args.indexOf('--values') + 1]).toBe(join(PACKAGE_ROOT, GRAFANA.values))
  })

  it('provisions the data sources the dashboard expects, as the read-only viewer (its user and password from the umbrella chart\'s tpipe-db-viewer Secret), never the owner', () => {
    const v = yaml(GRAFANA.values)
    const ds = v.datasources['datasources.yaml'].datasources as any[]
    const pg = ds.find((d) => d.uid === PG_UID)
    const prom = ds.find((d) => d.uid === PROM_UID)
    expect(pg.type).toBe(PG_TYPE)
    expect(prom.type).toBe('prometheus')
    const pgValues = yaml('charts/postgresql/values.yaml')
    const umbrella = yaml('charts/telemetry-pipeline/values.yaml')
    expect(pg.user).toBe(loginName('viewer', pgValues.auth.database))
    expect(pg.user).not.toBe(pgValues.auth.username)
    expect(pg.jsonData.database).toBe(pgValues.auth.database)
    expect(pg.url).toBe(`postgresql:${yaml('charts/telemetry-pipeline/values.yaml').postgresql.service.port}`)
    const ref = v.envValueFrom.TPIPE_PG_PASSWORD.secretKeyRef
    expect(pg.secureJsonData.password).toBe('$TPIPE_PG_PASSWORD')
    expect(umbrella.global.database.serviceRoles.enabled).toBe(true)
    expect(ref).toEqual({ name: `${umbrella.global.database.serviceRoles.secretPrefix}-viewer`, key: 'password' })
    const secrets = readFileSync(join(PACKAGE_ROOT, 'charts/telemetry-pipeline/templates/db-roles-secrets.yaml'), 'utf8')
    expect(secrets).toMatch(/range \$service := list [^}]*"viewer"/)
    expect(secrets).toMatch(/^ {2}password: /m)
    // The same Prometheus the adapter reads.
    const adapter = yaml('kind/prometheus-adapter-values.yaml').prometheus
    expect(prom.url.startsWith(adapter.url)).toBe(true)
  })

  it('loads the dashboard through the sidecar label the umbrella chart sets, and kind publishes its NodePort', () => {
    const v = yaml(GRAFANA.values)
    const chart = yaml('charts/telemetry-pipeline/values.yaml').grafanaDashboard
    expect(chart.enabled).toBe(true)
    expect(v.sidecar.dashboards).toMatchObject({ enabled: true, label: chart.label, labelValue: chart.labelValue })
    const maps = yaml('kind/cluster.yaml').nodes[0].extraPortMappings as any[]
    const m = maps.find((x) => x.containerPort === v.service.nodePort)
    expect(m, 'kind/cluster.yaml publishes the Grafana NodePort').toBeTruthy()
    expect(GRAFANA_URL.startsWith(`http://localhost:${m.hostPort}/`)).toBe(true)
  })
})
