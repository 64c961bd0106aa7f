// Writes the Grafana dashboard the charts ship (charts/telemetry-pipeline/dashboards/tpipe.json) from
// src/grafana/dashboard.ts; src/grafana/dashboard.int.test.ts fails when the committed file differs.
import { writeFileSync } from 'node:fs'
import { DASHBOARD_FILE, dashboardText } from '../src/grafana/dashboard.js'

writeFileSync(DASHBOARD_FILE, dashboardText())
console.log(`wrote ${DASHBOARD_FILE}`)
