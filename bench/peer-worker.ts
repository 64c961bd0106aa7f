// The peer (pg-boss) doing tpipe's job, run as its own processes by the peer suite:
//   producer: 64 concurrent senders, one job per message (like the streamer's single-message publish);
//   worker:   fetches jobs in batches, inserts them as telemetry rows in one statement, completes them.
import PgBoss from 'pg-boss'
import pg from 'pg'
import { message } from './bodies.js'

interface Args {
  role: 'producer' | 'worker'
  url: string
  queue: string
  senders?: number
  batchSize?: number
  subscriptions?: number
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args
const boss = new PgBoss({ connectionString: args.url, schema: 'pgboss', max: 10, supervise: false, schedule: false })
boss.on('error', (err) => console.error('pg-boss error', err.message))
await boss.start()
let count = 0
let stopping = false

if (args.role === 'producer') {
  await boss.createQueue(args.queue).catch(() => {})
  const loops = Array.from({ length: args.senders ?? 64 }, async (_, w) => {
    let i = w
    while (!stopping) {
      await boss.send(args.queue, message(i).payload)
      count++
      i += args.senders ?? 64
    }
  })
  process.on('SIGTERM', () => {
    stopping = true
    void Promise.all(loops).then(async () => {
      await boss.stop({ graceful: false, wait: false })
      process.stdout.write(JSON.stringify({ sent: count }) + '\n')
      process.exit(0)
    })
  })
} else {
  const pool = new pg.Pool({ connectionString: args.url, max: 4 })
  const insert = `INSERT INTO peer_telemetry (msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts, container, pod, namespace, labels)
    SELECT msg_uuid, gpu_uuid, gpu_id, device, hostname, model_name, metric_name, value, ts, container, pod, namespace, labels
    FROM json_to_recordset($1::json) AS r(msg_uuid uuid, gpu_uuid text, gpu_id smallint, device text, hostname text, model_name text,
         metric_name text, value float8, ts timestamptz, container text, pod text, namespace text, labels jsonb)
    ON CONFLICT (ts, msg_uuid) DO NOTHING`
  for (let s = 0; s < (args.subscriptions ?? 2); s++) {
    await boss.work<Record<string, unknown>>(args.queue, { batchSize: args.batchSize ?? 100, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      await pool.query(insert, [JSON.stringify(jobs.map((j) => ({ msg_uuid: j.id, ...j.data })))])
      count += jobs.length
    })
  }
  process.on('SIGTERM', () => {
    void (async () => {
      await boss.stop({ graceful: true, wait: true, timeout: 5000 }).catch(() => {})
      await pool.end()
      process.stdout.write(JSON.stringify({ completed: count }) + '\n')
      process.exit(0)
    })()
  })
}
process.stdout.write(JSON.stringify({ ready: true }) + '\n')
