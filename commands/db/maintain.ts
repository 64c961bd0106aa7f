import { Flags } from '@oclif/core'
import pg from 'pg'
import { TpipeCommand } from '../../src/cli/base.js'
import { settingFlags } from '../../src/cli/flags.js'
import { useDatabase } from '../../src/db/index.js'
import { maintain, type MaintainResult } from '../../src/telemetry/maintain.js'
import { formatDuration } from '../../src/telemetry/time.js'

export default class DbMaintain extends TpipeCommand {
  static override summary = 'Run one telemetry maintenance pass: create partitions ahead, move late rows out of the default partition, drop partitions past retention.'
  static override description =
    'The collector runs the same pass every TPIPE_MAINTENANCE_INTERVAL_MS; an advisory lock lets one pass run at a time (this command waits for nothing: it reports that another process holds the lock). --dry-run shows what would be created and dropped, and changes nothing.'
  static override examples = ['<%= config.bin %> db maintain --dry-run', '<%= config.bin %> db maintain --telemetry-retention 14d --json']
  static override enableJsonFlag = true
  static override flags = {
    ...settingFlags('cli'),
    'dry-run': Flags.boolean({ description: 'Show what would be created and dropped; change nothing.' }),
  }

  async run(): Promise<MaintainResult> {
    const { flags } = await this.parse(DbMaintain)
    const config = this.loadConfigFrom(flags, 'cli')
    // An embedded PostgreSQL this command had to start is stopped again when it ends (issue 13 item 3).
    const db = await useDatabase(config, (m) => this.logToStderr(m))
    let result: MaintainResult
    try {
      const client = new pg.Client({ connectionString: db.url, application_name: 'tpipe-db-maintain', connectionTimeoutMillis: 10_000 })
      await client.connect()
      try {
        result = await maintain(client, {
          partitionMs: config.telemetryPartitionMs,
          retentionMs: config.telemetryRetentionMs,
          rollupRetentionMs: config.rollupRetentionMs,
          rollup1hRetentionMs: config.rollup1hRetentionMs,
          dryRun: flags['dry-run'],
        })
      } finally {
        await client.end()
      }
    } finally {
      await db.release()
    }
    if (!result.ran) {
      this.log('another process is running maintenance now (advisory lock held); nothing done')
      return result
    }
    const verb = result.dryRun ? 'would ' : ''
    this.log(`raw retention ${formatDuration(config.telemetryRetentionMs)}, minute rollups ${formatDuration(config.rollupRetentionMs)}, hour rollups ${formatDuration(config.rollup1hRetentionMs)}, partition ${formatDuration(config.telemetryPartitionMs)}${result.dryRun ? ' (dry run: nothing changed)' : ''}`)
    for (const p of result.created) this.log(`${verb}create ${p.table} [${p.from}, ${p.to})${p.name ? `  ${p.name}` : ''}`)
    for (const p of result.dropped) this.log(`${verb}drop   ${p.table} [${p.from}, ${p.to})  ${p.name}${p.ms !== undefined ? `  ${p.ms} ms` : ''}`)
    for (const [t, n] of Object.entries(result.expiredDefaultRows)) if (n) this.log(`${verb}delete ${n} rows past retention from ${t}_default`)
    if (result.expiredSeries) this.log(`${verb}delete ${result.expiredSeries} series (label sets) last written more than a day before the oldest sample that can still exist, from telemetry_series`)
    if (!result.created.length && !result.dropped.length) this.log('nothing to create or drop')
    this.log(`partitions in retention: ${Object.entries(result.partitions).map(([t, n]) => `${t} ${n}`).join(', ')}; rows in default partitions: ${Object.entries(result.defaultRows).map(([t, n]) => `${t} ${n}`).join(', ')}`)
    return result
  }
}
