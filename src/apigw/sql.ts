// Pure SQL builders for the read API. Hot statements are named so each connection prepares them once.

export interface Query {
  name?: string
  text: string
  values: unknown[]
}

const TS_TEXT = `to_char(t.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

export function listGpus(): Query {
  return {
    name: 'apigw_list_gpus',
    text: `SELECT gpu_uuid AS id, hostname, gpu_id, device, model_name,
                  to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS last_seen
           FROM gpus ORDER BY hostname, gpu_id, gpu_uuid`,
    values: [],
  }
}

export function gpuExists(id: string): Query {
  return { name: 'apigw_gpu_exists', text: 'SELECT 1 FROM gpus WHERE gpu_uuid = $1', values: [id] }
}

export interface TelemetryPage {
  id: string
  /** RFC 3339 text handed to PostgreSQL as is (microseconds survive); '-infinity'/'infinity' when open. */
  start: string
  end: string
  metrics: readonly string[]
  limit: number
  after?: { ts: string; msgUuid: string } | undefined
  /** Also container, pod, namespace and labels: these live only in the heap, so the scan is no longer index-only. */
  detail?: boolean
}

/**
 * One page of a GPU's telemetry in (ts, msg_uuid) order. The keyset condition is a row comparison so
 * that the whole WHERE is one range on the index (gpu_uuid, ts, msg_uuid) INCLUDE (metric_name, value):
 * without `detail` the page is an index-only scan, costs the same on the first and the millionth page,
 * and rows sharing a timestamp are neither skipped nor repeated. One row more than the limit is read to
 * know whether a next page exists. ts is returned as text with microseconds, because a JS Date would
 * truncate them and break the cursor.
 */
export function telemetryPage(p: TelemetryPage): Query {
  const values: unknown[] = [p.id, p.start, p.end, p.limit + 1]
  let where = 't.gpu_uuid = $1 AND t.ts >= $2::timestamptz AND t.ts <= $3::timestamptz'
  if (p.after) {
    values.push(p.after.ts, p.after.msgUuid)
    where += ` AND (t.ts, t.msg_uuid) > ($${values.length - 1}::timestamptz, $${values.length}::uuid)`
  }
  if (p.metrics.length) {
    values.push(p.metrics)
    where += ` AND t.metric_name = ANY($${values.length}::text[])`
  }
  const detail = p.detail ? ', t.container, t.pod, t.namespace, t.labels' : ''
  return {
    name: `apigw_telemetry_${p.after ? 'c' : ''}${p.metrics.length ? 'm' : ''}${p.detail ? 'd' : ''}`,
    // ORDER BY names the table's columns (t.ts), not the text column of the same name in the output.
    text: `SELECT t.msg_uuid, ${TS_TEXT} AS ts, t.metric_name, t.value${detail}
           FROM telemetry AS t WHERE ${where}
           ORDER BY t.ts, t.msg_uuid LIMIT $4`,
    values,
  }
}
