// Least-privilege database roles (issue 17, finding 11) against the real PostgreSQL: each service's login
// user (made by ensureServiceLogins, member of the group role of migration 1764209000000) can do its job
// — the whole pipeline flows with every service on its own user — and cannot do more.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApigw } from '../apigw/app.js'
import { buildCollector } from '../collector/app.js'
import { loadConfig } from '../config/index.js'
import { buildMqwriter } from '../mqwriter/app.js'
import { parsePartitions } from '../partitions/ranges.js'
import { encodeWriteRequest } from '../remotewrite/proto.js'
import { deriveOnce } from '../telemetry/derive.js'
import { maintain } from '../telemetry/maintain.js'
import { waitFor } from '../util/async.js'
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js'
import { payload, postJson, startReader } from '../../test/support/mqreader.js'
import { createPool, type Pool } from './pool.js'
import { DB_SERVICES, ensureServiceLogins, loginEnv, loginName, provisionServiceLogins, randomPassword, rolePasswordsFile, serviceUrl, SERVICE_GROUPS, type DbService, type ServiceLogin } from './roles.js'

const silent = pino({ level: 'silent' })
let db: TestDatabase
let logins: ServiceLogin[]
const urls = {} as Record<DbService, string>
const pools = {} as Record<DbService, Pool>
/** A role that can only log in (member of nothing): what "anyone with a connection" can do. */
let nobody: { user: string; url: string }
const extraRoles: string[] = []

async function adminQuery(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: db.url })
  await c.connect()
  try {
    await c.query(text)
  } finally {
    await c.end()
  }
}

beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'tpipe_roles' })
  logins = DB_SERVICES.map((service) => ({ service, user: loginName(service, db.name), password: randomPassword() }))
  await ensureServiceLogins(db.url, logins)
  for (const l of logins) {
    urls[l.service] = serviceUrl(db.url, l)
    pools[l.service] = createPool(urls[l.service], { max: 6, applicationName: `tpipe-${l.service}` })
  }
  nobody = { user: `${db.name}_nobody`, url: '' }
  const pw = randomPassword()
  await adminQuery(`CREATE ROLE ${nobody.user} LOGIN PASSWORD '${pw}'`)
  extraRoles.push(nobody.user)
  nobody.url = serviceUrl(db.url, { user: nobody.user, password: pw })
})

afterAll(async () => {
  for (const p of Object.values(pools)) await p.end().catch(() => {})
  await db?.drop()
  // Roles belong to the cluster: the test's own users go with it (the group roles stay, shared).
  const admin = new pg.Client({ connectionString: db.url.replace(/\/[^/?]+(\?|$)/, '/postgres$1') })
  await admin.connect()
  for (const r of [...(logins ?? []).map((l) => l.user), ...extraRoles]) await admin.query(`DROP ROLE IF EXISTS ${r}`).catch(() => {})
  await admin.end()
})

/** The SQLSTATE a statement fails with as `service` (undefined: it succeeded). */
async function sqlstate(who: DbService | 'nobody', text: string): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: who === 'nobody' ? nobody.url : urls[who] })
  await c.connect()
  try {
    await c.query(text)
    return undefined
  } catch (err) {
    return (err as { code?: string }).code
  } finally {
    await c.end()
  }
}

const DENIED = '42501'

describe('service roles', () => {
  it('each login user is a plain LOGIN member of its own group only: no superuser, CREATEROLE, CREATEDB, replication or RLS bypass', async () => {
    const r = await db.pool.query<{ rolname: string; rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean; rolreplication: boolean; rolbypassrls: boolean; rolcanlogin: boolean; groups: string[] }>(
      `SELECT u.rolname, u.rolsuper, u.rolcreaterole, u.rolcreatedb, u.rolreplication, u.rolbypassrls, u.rolcanlogin,
              array(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = u.oid ORDER BY 1)::text[] AS groups
       FROM pg_roles u WHERE u.rolname = ANY($1) ORDER BY 1`,
      [logins.map((l) => l.user)],
    )
    expect(r.rows).toHaveLength(DB_SERVICES.length)
    for (const row of r.rows) {
      const l = logins.find((x) => x.user === row.rolname)!
      expect(row).toEqual({ rolname: l.user, rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolreplication: false, rolbypassrls: false, rolcanlogin: true, groups: [SERVICE_GROUPS[l.service]] })
    }
    // The groups themselves cannot log in.
    const g = await db.pool.query<{ rolcanlogin: boolean }>('SELECT rolcanlogin FROM pg_roles WHERE rolname = ANY($1)', [Object.values(SERVICE_GROUPS)])
    expect(g.rows.map((x) => x.rolcanlogin)).toEqual(DB_SERVICES.map(() => false))
  })

  it('ensureServiceLogins is idempotent, changes the password, and takes away a group granted by hand', async () => {
    const l = logins.find((x) => x.service === 'apigw')!
    await adminQuery(`GRANT tpipe_collector TO ${l.user}`)
    const old = l.password
    l.password = randomPassword()
    await ensureServiceLogins(db.url, logins)
    urls.apigw = serviceUrl(db.url, l)
    await pools.apigw.end()
    pools.apigw = createPool(urls.apigw, { max: 6, applicationName: 'tpipe-apigw' })
    expect(await sqlstate('apigw', 'SELECT 1')).toBeUndefined()
    const stale = new pg.Client({ connectionString: serviceUrl(db.url, { user: l.user, password: old }) })
    await expect(stale.connect()).rejects.toMatchObject({ code: '28P01' })
    await stale.end().catch(() => {})
    const groups = await db.pool.query<{ g: string }>(
      'SELECT g.rolname AS g FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1',
      [l.user],
    )
    expect(groups.rows.map((x) => x.g)).toEqual(['tpipe_apigw'])
    await expect(ensureServiceLogins(db.url, [{ service: 'apigw', user: 'tpipe_collector', password: 'x' }])).rejects.toThrow(/group role/)
    // An owner without CREATEROLE gets 42501, which `tpipe dev` takes as "run every service as the DATABASE_URL user".
    await expect(ensureServiceLogins(nobody.url, [{ service: 'apigw', user: `${db.name}_nope_login`, password: randomPassword() }])).rejects.toMatchObject({ code: '42501' })
  })

  it('provisionServiceLogins: names and passwords from TPIPE_DB_USER_/TPIPE_DB_PASSWORD_<SERVICE>, else <database>_<service>_login with the home file (0600, reused)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'tpipe-roles-'))
    try {
      const own = `${db.name}_own_writer`
      extraRoles.push(own)
      const pw = randomPassword()
      const first = await provisionServiceLogins(db.url, { home, env: { [loginEnv('mqwriter').user]: own, [loginEnv('mqwriter').password]: pw } })
      expect(first.map((l) => l.user)).toEqual([own, ...DB_SERVICES.slice(1).map((s) => loginName(s, db.name))])
      expect(first[0]!.url).toBe(serviceUrl(db.url, { user: own, password: pw }))
      expect(statSync(rolePasswordsFile(home)).mode & 0o777).toBe(0o600)
      const stored = JSON.parse(readFileSync(rolePasswordsFile(home), 'utf8')) as Record<string, string>
      expect(first[1]!.url).toBe(serviceUrl(db.url, { user: loginName('mqreader', db.name), password: stored.mqreader! }))
      // Again: same passwords (the running services' URLs stay valid), and every URL logs in.
      const again = await provisionServiceLogins(db.url, { home, env: { [loginEnv('mqwriter').user]: own, [loginEnv('mqwriter').password]: pw } })
      expect(again).toEqual(first)
      for (const l of again) {
        const c = new pg.Client({ connectionString: l.url })
        await c.connect()
        expect((await c.query('SELECT current_user AS u')).rows[0].u).toBe(l.user)
        await c.end()
      }
    } finally {
      rmSync(home, { recursive: true, force: true })
      // The other users now have the home's passwords: the pools of the next tests need theirs back.
      await ensureServiceLogins(db.url, logins)
    }
  })

  it('the pipeline flows with every service on its own user: publish → lease/ack → telemetry, dead letters, partitions, rollups → API', async () => {
    const writer = buildMqwriter({ ...loadConfig({}, {}, 'mqwriter'), metricsEnabled: false }, { pool: pools.mqwriter, logger: silent })
    const writerUrl = await writer.app.listen({ host: '127.0.0.1', port: 0 })
    const reader = await startReader({ pool: pools.mqreader, url: urls.mqreader }, { partitions: parsePartitions('0-255'), readerName: 'roles' })
    const collector = buildCollector(
      { ...loadConfig({ readers: reader.url }, {}, 'collector'), metricsEnabled: false, collectorLeaseWaitMs: 300, deriveIntervalMs: 200 },
      { pool: pools.collector, logger: silent },
    )
    await collector.start()
    const { app } = await buildApigw({ logLevel: 'silent', bodyLimitBytes: 1048576, metricsEnabled: false }, { pool: pools.apigw, logger: silent })
    try {
      const gpus = ['GPU-roles-0', 'GPU-roles-1', 'GPU-roles-2']
      const now = Date.now()
      // Half the rows with labels: the collector writes their series (telemetry_series) as tpipe_collector.
      const labels = (g: string) => ({ UUID: g, job: 'dcgm-exporter' })
      const body = Array.from({ length: 300 }, (_, i) => ({
        key: gpus[i % 3]!,
        payload: payload(gpus[i % 3]!, i, { ts: new Date(now - 60_000 + i).toISOString(), labels: i % 2 ? labels(gpus[i % 3]!) : null }),
      }))
      // One payload the collector cannot turn into a row: it must reach dead_letters.
      body.push({ key: gpus[0]!, payload: { not: 'telemetry' } as never })
      const res = await postJson(`${writerUrl}/v1/publish`, body)
      expect(res.status, JSON.stringify(res.body)).toBe(201)
      const count = async (t: string) => Number((await db.pool.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n)
      await waitFor(async () => ((await count('telemetry')) === 300 && (await count('dead_letters')) === 1 && (await count('queue_messages')) === 0 ? true : undefined), {
        timeoutMs: 30_000,
        what: 'the batch persisted and acked under the service roles',
      })
      // The collector's own maintenance pass and derive job ran as tpipe_collector.
      await waitFor(async () => ((await count('telemetry_latest')) === 3 ? true : undefined), { timeoutMs: 10_000, what: 'the derive job (as the collector) to fill telemetry_latest' })
      const c = new pg.Client({ connectionString: urls.collector })
      await c.connect()
      try {
        const m = await maintain(c, { partitionMs: 86_400_000, retentionMs: 7 * 86_400_000, rollupRetentionMs: 90 * 86_400_000, rollup1hRetentionMs: 400 * 86_400_000 })
        expect(m.ran).toBe(true)
      } finally {
        await c.end()
      }
      expect((await deriveOnce(pools.collector, { quietSeconds: 0 })).ran).toBe(true)
      expect(await count('telemetry_1m')).toBeGreaterThan(0)
      expect(await count('telemetry_1h')).toBeGreaterThan(0) // the same job, through the same SECURITY DEFINER function

      const list = await app.inject({ method: 'GET', url: '/api/v1/gpus?metrics=DCGM_FI_DEV_GPU_UTIL' })
      expect(list.statusCode).toBe(200)
      expect(list.json().gpus.map((g: { id: string }) => g.id).sort()).toEqual(gpus)
      const page = await app.inject({ method: 'GET', url: `/api/v1/gpus/${gpus[0]}/telemetry?limit=1000` })
      expect(page.statusCode).toBe(200)
      expect(page.json().telemetry).toHaveLength(100)
      // Labels read back through telemetry_series as tpipe_apigw.
      expect((await count('telemetry_series'))).toBe(3)
      const detail = await app.inject({ method: 'GET', url: `/api/v1/gpus/${gpus[0]}/telemetry?limit=1000&detail=true` })
      expect(detail.statusCode).toBe(200)
      const withLabels = detail.json().telemetry.filter((r: { labels: unknown }) => r.labels !== null)
      expect(withLabels.length).toBe(50)
      expect(withLabels.map((r: { labels: unknown }) => r.labels)).toEqual(Array(50).fill(labels(gpus[0]!)))
      for (const url of [
        `/api/v1/gpus/${gpus[0]}/telemetry?step=60s`,
        '/api/v1/telemetry?metric=DCGM_FI_DEV_GPU_UTIL&step=60s&group_by=hostname',
        `/api/v1/gpus/${gpus[0]}/telemetry?step=1h`,
        '/api/v1/telemetry?metric=DCGM_FI_DEV_GPU_UTIL&step=1h&group_by=hostname',
      ]) {
        const r = await app.inject({ method: 'GET', url })
        expect(r.statusCode, `${url}: ${r.body}`).toBe(200)
        expect(r.json().source).toBe(url.includes('step=1h') ? 'telemetry_1h' : 'telemetry_1m')
      }
    } finally {
      await collector.stop()
      await reader.close()
      await writer.app.close()
      await app.close()
    }
  })

  it('apigw cannot write, delete, truncate, read the queue or dead letters, or drop a partition', async () => {
    const msg = randomUUID()
    expect(await sqlstate('apigw', `INSERT INTO telemetry (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts) VALUES ('${msg}', 'g', 0, 'd', 'h', 'm', 'x', 1, now())`)).toBe(DENIED)
    expect(await sqlstate('apigw', 'DELETE FROM telemetry')).toBe(DENIED)
    expect(await sqlstate('apigw', 'UPDATE gpus SET hostname = hostname')).toBe(DENIED)
    expect(await sqlstate('apigw', 'TRUNCATE telemetry')).toBe(DENIED)
    expect(await sqlstate('apigw', 'TRUNCATE gpus')).toBe(DENIED)
    expect(await sqlstate('apigw', 'SELECT count(*) FROM queue_messages')).toBe(DENIED)
    expect(await sqlstate('apigw', 'SELECT count(*) FROM dead_letters')).toBe(DENIED)
    expect(await sqlstate('apigw', "SELECT tpipe_drop_partition('telemetry', 'telemetry_p20000101')")).toBe(DENIED)
    expect(await sqlstate('apigw', 'SELECT tpipe_refresh_latest()')).toBe(DENIED)
    expect(await sqlstate('apigw', 'SELECT count(*) FROM telemetry')).toBeUndefined()
  })

  it('mqwriter registers remote_write series as tpipe_mqwriter with the queue rows, and can do no more with them', async () => {
    const writer = buildMqwriter({ ...loadConfig({}, {}, 'mqwriter'), metricsEnabled: false }, { pool: pools.mqwriter, logger: silent })
    try {
      const labels = [{ name: '__name__', value: 'DCGM_FI_DEV_GPU_UTIL' }, { name: 'UUID', value: 'GPU-roles-rw' }, { name: 'gpu', value: '0' }]
      const body = encodeWriteRequest([{ labels, samples: [{ value: 1, timestamp: Date.now() }] }])
      const series = async () => Number((await db.pool.query(`SELECT count(*) AS n FROM telemetry_series WHERE labels->>'UUID' = 'GPU-roles-rw'`)).rows[0].n)
      for (let i = 0; i < 2; i++) {
        // Twice: the second time the series exists (ON CONFLICT reads series_id and last_seen).
        await db.pool.query(`UPDATE telemetry_series SET last_seen = now() - interval '1 hour' WHERE labels->>'UUID' = 'GPU-roles-rw'`)
        const res = await writer.app.inject({ method: 'POST', url: '/api/v1/write', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' }, payload: body })
        expect(res.statusCode, res.body).toBe(204)
        expect(await series()).toBe(1)
        // A new mqwriter (empty memory) registers the series again: an upsert of its last_seen.
        await writer.app.close()
        Object.assign(writer, buildMqwriter({ ...loadConfig({}, {}, 'mqwriter'), metricsEnabled: false }, { pool: pools.mqwriter, logger: silent }))
      }
      const seen = await db.pool.query(`SELECT last_seen > now() - interval '1 minute' AS fresh FROM telemetry_series WHERE labels->>'UUID' = 'GPU-roles-rw'`)
      expect(seen.rows).toEqual([{ fresh: true }])
    } finally {
      await writer.app.close()
      await db.pool.query(`DELETE FROM queue_messages WHERE payload::text LIKE '%GPU-roles-rw%'`)
    }
    for (const q of ['SELECT labels FROM telemetry_series LIMIT 1', "UPDATE telemetry_series SET labels = '{}'", 'DELETE FROM telemetry_series']) {
      expect(await sqlstate('mqwriter', q)).toBe(DENIED)
    }
  })

  it('mqwriter can only add to the queue: no reading it, no deleting, no telemetry', async () => {
    expect(await sqlstate('mqwriter', 'SELECT payload FROM queue_messages')).toBe(DENIED)
    expect(await sqlstate('mqwriter', 'SELECT key FROM queue_messages')).toBe(DENIED)
    expect(await sqlstate('mqwriter', 'DELETE FROM queue_messages')).toBe(DENIED)
    expect(await sqlstate('mqwriter', 'UPDATE queue_messages SET key = key')).toBe(DENIED)
    expect(await sqlstate('mqwriter', 'SELECT count(*) FROM telemetry')).toBe(DENIED)
    expect(await sqlstate('mqwriter', 'SELECT count(*) FROM gpus')).toBe(DENIED)
    expect(await sqlstate('mqwriter', "INSERT INTO dead_letters (msg_uuid, partition, key, payload, error, delivery_count) VALUES (gen_random_uuid(), 0, 'k', '{}', 'e', 1)")).toBe(DENIED)
  })

  it('mqreader can read and delete the queue only: no insert, no update, no telemetry', async () => {
    expect(await sqlstate('mqreader', "INSERT INTO queue_messages (msg_uuid, partition, key, payload) VALUES (gen_random_uuid(), 0, 'k', '{}')")).toBe(DENIED)
    expect(await sqlstate('mqreader', 'UPDATE queue_messages SET key = key')).toBe(DENIED)
    expect(await sqlstate('mqreader', 'TRUNCATE queue_messages')).toBe(DENIED)
    expect(await sqlstate('mqreader', 'SELECT count(*) FROM telemetry')).toBe(DENIED)
    expect(await sqlstate('mqreader', 'SELECT count(*) FROM dead_letters')).toBe(DENIED)
  })

  it('the dashboards\' viewer reads what apigw reads plus the queue\'s depth and age, never payloads, keys or dead letters, and writes nothing', async () => {
    expect(await sqlstate('viewer', 'SELECT count(*) FROM (SELECT 1 FROM queue_messages LIMIT 1000000) q')).toBeUndefined()
    expect(await sqlstate('viewer', 'SELECT min(enqueued_at) FROM (SELECT enqueued_at FROM queue_messages ORDER BY id LIMIT 1000) q')).toBeUndefined()
    expect(await sqlstate('viewer', 'SELECT count(*) FROM telemetry_1m JOIN gpus USING (gpu_uuid)')).toBeUndefined()
    expect(await sqlstate('viewer', 'SELECT count(*) FROM telemetry_1h JOIN gpus USING (gpu_uuid)')).toBeUndefined()
    expect(await sqlstate('viewer', 'SELECT payload FROM queue_messages')).toBe(DENIED)
    expect(await sqlstate('viewer', 'SELECT key FROM queue_messages')).toBe(DENIED)
    expect(await sqlstate('viewer', 'SELECT count(*) FROM dead_letters')).toBe(DENIED)
    expect(await sqlstate('viewer', 'DELETE FROM queue_messages')).toBe(DENIED)
    expect(await sqlstate('viewer', 'UPDATE gpus SET hostname = hostname')).toBe(DENIED)
    expect(await sqlstate('viewer', 'SELECT tpipe_refresh_latest()')).toBe(DENIED)
  })

  it('collector cannot drop, truncate, delete or update, read the queue or telemetry, or write gpus and the derived tables directly', async () => {
    expect(await sqlstate('collector', 'DROP TABLE telemetry')).toBe(DENIED)
    expect(await sqlstate('collector', 'DROP TABLE telemetry_default')).toBe(DENIED)
    expect(await sqlstate('collector', 'TRUNCATE telemetry')).toBe(DENIED)
    expect(await sqlstate('collector', 'DELETE FROM telemetry')).toBe(DENIED)
    expect(await sqlstate('collector', 'DELETE FROM dead_letters')).toBe(DENIED)
    expect(await sqlstate('collector', 'UPDATE telemetry SET value = 0')).toBe(DENIED)
    expect(await sqlstate('collector', 'SELECT value FROM telemetry LIMIT 1')).toBe(DENIED)
    expect(await sqlstate('collector', 'SELECT count(*) FROM queue_messages')).toBe(DENIED)
    expect(await sqlstate('collector', 'SELECT payload FROM dead_letters')).toBe(DENIED)
    expect(await sqlstate('collector', "INSERT INTO gpus VALUES ('g', 'h', 0, 'd', 'm', now())")).toBe(DENIED)
    expect(await sqlstate('collector', 'DELETE FROM telemetry_latest')).toBe(DENIED)
    expect(await sqlstate('collector', 'DELETE FROM telemetry_dirty_rollups')).toBe(DENIED)
    // Series: written with the rows (and last_seen bumped), never read back, changed or deleted directly.
    expect(await sqlstate('collector', 'SELECT labels FROM telemetry_series LIMIT 1')).toBe(DENIED)
    expect(await sqlstate('collector', "UPDATE telemetry_series SET labels = '{}'")).toBe(DENIED)
    expect(await sqlstate('collector', 'DELETE FROM telemetry_series')).toBe(DENIED)
    expect(await sqlstate('collector', "ALTER TABLE telemetry DETACH PARTITION telemetry_default")).toBe(DENIED)
    // The partition functions still refuse anything but telemetry's own partitions.
    expect(await sqlstate('collector', "SELECT tpipe_drop_partition('telemetry', 'queue_messages')")).toBe('P0001')
  })

  it('no service user (nor a role that can merely log in) can create roles, databases, tables, or run programs; none can call the partition functions but the collector', async () => {
    for (const who of [...DB_SERVICES, 'nobody'] as const) {
      expect(await sqlstate(who, `CREATE ROLE ${db.name}_evil_${who}`), `${who} CREATE ROLE`).toBe(DENIED)
      expect(await sqlstate(who, `CREATE DATABASE ${db.name}_evil_${who}`), `${who} CREATE DATABASE`).toBe(DENIED)
      expect(await sqlstate(who, 'CREATE TABLE evil (x int)'), `${who} CREATE TABLE`).toBe(DENIED)
      expect(await sqlstate(who, "COPY (SELECT 1) TO PROGRAM 'true'"), `${who} COPY TO PROGRAM`).toBe(DENIED)
      expect(await sqlstate(who, 'ALTER ROLE CURRENT_USER SUPERUSER'), `${who} ALTER ROLE SUPERUSER`).toBe(DENIED)
      if (who !== 'collector') {
        expect(await sqlstate(who, "SELECT tpipe_ensure_partition('telemetry', 'ts', '2000-01-01', '2000-01-02')"), `${who} ensure_partition`).toBe(DENIED)
        expect(await sqlstate(who, "SELECT tpipe_expire_default('telemetry', 'ts', now())"), `${who} expire_default`).toBe(DENIED)
      }
    }
  })

  it('a role that can merely log in cannot drop a telemetry partition (the SECURITY DEFINER functions are not PUBLIC)', async () => {
    // Before migration 1764209000000 any role that could connect ran these as the owner.
    const part = (await db.pool.query<{ name: string }>("SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'telemetry'::regclass AND c.relname <> 'telemetry_default' LIMIT 1")).rows[0]!.name
    expect(await sqlstate('nobody', `SELECT tpipe_drop_partition('telemetry', '${part}')`)).toBe(DENIED)
    expect(await sqlstate('nobody', 'SELECT tpipe_refresh_rollups()')).toBe(DENIED)
    const still = await db.pool.query('SELECT to_regclass($1) AS r', [part])
    expect(still.rows[0].r).not.toBeNull()
  })

  it('every table, sequence and tpipe function of the schema has an access decision (a new one must be granted or listed here)', async () => {
    // What each group may do, per object; owner-only objects are listed with no group.
    const DECIDED: Record<string, Record<string, string[]>> = {
      queue_messages: { tpipe_mqwriter: ['INSERT'], tpipe_mqreader: ['DELETE', 'SELECT'] },
      queue_messages_id_seq: { tpipe_mqwriter: ['USAGE'] },
      telemetry: { tpipe_collector: ['INSERT'], tpipe_apigw: ['SELECT'], tpipe_viewer: ['SELECT'] },
      telemetry_default: { tpipe_collector: ['SELECT'] },
      telemetry_1m_default: { tpipe_collector: ['SELECT'] },
      telemetry_1h_default: { tpipe_collector: ['SELECT'] },
      dead_letters: { tpipe_collector: ['INSERT'] },
      gpus: { tpipe_apigw: ['SELECT'], tpipe_viewer: ['SELECT'] },
      gpus_json: { tpipe_apigw: ['SELECT'], tpipe_viewer: ['SELECT'] },
      telemetry_latest: { tpipe_apigw: ['SELECT'], tpipe_viewer: ['SELECT'] },
      telemetry_1m: { tpipe_apigw: ['SELECT'], tpipe_viewer: ['SELECT'] },
      telemetry_1h: { tpipe_apigw: ['SELECT'], tpipe_viewer: ['SELECT'] },
      telemetry_series: { tpipe_collector: ['INSERT'], tpipe_mqwriter: ['INSERT'], tpipe_apigw: ['SELECT'], tpipe_viewer: ['SELECT'] },
      telemetry_latest_log: {},
      telemetry_dirty_rollups: {},
      pgmigrations: {},
      pgmigrations_id_seq: {},
    }
    const FUNCTIONS: Record<string, string[]> = {
      tpipe_ensure_partition: ['tpipe_collector'],
      tpipe_drop_partition: ['tpipe_collector'],
      tpipe_expire_default: ['tpipe_collector'],
      tpipe_refresh_latest: ['tpipe_collector'],
      tpipe_refresh_rollups: ['tpipe_collector'],
      tpipe_expire_series: ['tpipe_collector'],
      telemetry_upsert_gpus: [],
      telemetry_mark_dirty: [],
      gpus_json_head: [],
    }
    const groups = Object.values(SERVICE_GROUPS)
    // Tables, partitioned tables and sequences of the schema, except the dated partitions maintenance makes
    // (reached through their parent, whose grants apply).
    const rels = await db.pool.query<{ name: string; kind: string }>(
      `SELECT c.relname AS name, c.relkind AS kind FROM pg_class c
       WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'S')
         AND NOT (c.relispartition AND c.relname ~ '_p[0-9]{8}')`,
    )
    const seen: Record<string, Record<string, string[]>> = {}
    for (const { name, kind } of rels.rows) {
      const privs = kind === 'S' ? ['USAGE', 'SELECT', 'UPDATE'] : ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']
      seen[name] = {}
      for (const g of groups) {
        const have: string[] = []
        for (const p of privs) {
          const q = kind === 'S' ? 'SELECT has_sequence_privilege($1, $2, $3) AS ok' : 'SELECT has_table_privilege($1, $2, $3) AS ok'
          if ((await db.pool.query<{ ok: boolean }>(q, [g, name, p])).rows[0]!.ok) have.push(p)
        }
        if (have.length) seen[name]![g] = have.sort()
      }
    }
    expect(seen).toEqual(DECIDED)
    // Column grants: only the dedup keys an INSERT … ON CONFLICT must read (and tableoid for RETURNING), and the queue depth/age for the viewer.
    const cols = await db.pool.query<{ t: string; c: string; acl: string }>(
      `SELECT c.relname AS t, a.attname AS c, a.attacl::text AS acl FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       WHERE c.relnamespace = current_schema()::regnamespace AND a.attacl IS NOT NULL ORDER BY 1, 2`,
    )
    expect(cols.rows.map((r) => `${r.t}.${r.c} ${r.acl}`)).toEqual([
      expect.stringMatching(/^dead_letters\.msg_uuid \{tpipe_collector=r\/\w+\}$/),
      expect.stringMatching(/^queue_messages\.enqueued_at \{tpipe_viewer=r\/\w+\}$/),
      expect.stringMatching(/^queue_messages\.id \{tpipe_viewer=r\/\w+\}$/),
      expect.stringMatching(/^queue_messages\.msg_uuid \{tpipe_mqwriter=r\/\w+\}$/),
      expect.stringMatching(/^telemetry\.msg_uuid \{tpipe_collector=r\/\w+\}$/),
      expect.stringMatching(/^telemetry\.tableoid \{tpipe_collector=r\/\w+\}$/),
      expect.stringMatching(/^telemetry\.ts \{tpipe_collector=r\/\w+\}$/),
      expect.stringMatching(/^telemetry_series\.last_seen \{tpipe_collector=rw\/\w+,tpipe_mqwriter=rw\/\w+\}$/),
      expect.stringMatching(/^telemetry_series\.series_id \{tpipe_collector=r\/\w+,tpipe_mqwriter=r\/\w+\}$/),
    ])
    const fns = await db.pool.query<{ name: string; oid: number }>(
      `SELECT p.proname AS name, p.oid::int AS oid FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace AND p.prokind = 'f'`,
    )
    const fnSeen: Record<string, string[]> = {}
    for (const f of fns.rows) {
      fnSeen[f.name] = []
      for (const g of groups) if ((await db.pool.query<{ ok: boolean }>('SELECT has_function_privilege($1, $2::oid, \'EXECUTE\') AS ok', [g, f.oid])).rows[0]!.ok) fnSeen[f.name]!.push(g)
    }
    expect(fnSeen).toEqual(FUNCTIONS)
  })
})
