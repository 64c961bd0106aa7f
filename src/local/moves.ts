// Live partition moves between local readers, with the same planner as the Kubernetes controller:
// assignments go to each reader through its public PUT /v1/assignment; collectors follow the reader
// set through the readers file (collector --readers-file), so no collector is ever restarted.
import { renameSync, writeFileSync } from 'node:fs'
import { formatPartitions, parsePartitions } from '../partitions/ranges.js'
import { rangeText, type Plan } from '../partitions/plan.js'
import type { AssignmentPut, AssignmentView } from '../protocol/assignment.js'
import type { CollectorStats } from '../protocol/stats.js'
import { waitFor } from '../util/async.js'
import { getJson } from './http.js'
import type { ManagedProcess } from './process.js'


/** Writes the reader URLs for the collectors atomically (a collector never reads half a file). */
export function writeReadersFile(file: string, urls: readonly string[]): void {
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, urls.map((u) => `${u}\n`).join(''))
  renameSync(tmp, file)
}

/** Waits until every collector's /v1/stats lists exactly these readers (bounded). */
export async function collectorsFollow(collectors: readonly ManagedProcess[], urls: readonly string[], timeoutMs = 15_000): Promise<void> {
  const want = [...urls].sort().join(',')
  await waitFor(
    async () => {
      const views = await Promise.all(
        collectors.filter((c) => c.state === 'up').map((c) => getJson<CollectorStats>(`${c.url}/v1/stats`, 1000)),
      )
      return views.every((v) => v !== undefined && [...(v.readers ?? [])].sort().join(',') === want)
    },
    { timeoutMs, what: 'collectors to follow the new reader set', intervalMs: 100, failFast: true },
  )
}

export function describePlanChange(from: Plan, to: Plan): string[] {
  const moves: string[] = []
  for (const [name, r] of Object.entries(to)) {
    const prev = from[name]
    if (!prev || prev.start !== r.start || prev.end !== r.end) moves.push(`${name}: ${prev ? rangeText(prev) : '-'} → ${rangeText(r)}`)
  }
  for (const name of Object.keys(from)) if (!to[name]) moves.push(`${name}: ${rangeText(from[name]!)} → -`)
  return moves
}

/**
 * A reader answered 409 to an assignment: it holds a newer generation (`inForce`), so what was sent is
 * NOT in force. Never to be taken as accepted.
 */
export class StaleAssignmentError extends Error {
  constructor(
    readonly reader: string,
    readonly sent: number,
    readonly inForce: number | undefined,
    detail: string,
  ) {
    super(`${reader} refused assignment generation ${sent}: it holds generation ${inForce ?? 'unknown'} (${detail})`)
    this.name = 'StaleAssignmentError'
  }
}

/**
 * PUTs an assignment to a reader, retrying while it is unreachable or answers 5xx/408/429 (restarting).
 * Resolves only on 200. A 409 rejects with StaleAssignmentError naming the generation in force; any other
 * 4xx (a wrong token, a refused body) rejects at once with the reader's error message.
 */
export async function putAssignment(p: ManagedProcess, partitions: string, generation: number, headers: Record<string, string> = {}): Promise<void> {
  let refused: { status: number; text: string } | undefined
  await waitFor(
    async () => {
      let r: Response
      try {
        r = await fetch(`${p.url}/v1/assignment`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ partitions, generation } satisfies AssignmentPut),
          signal: AbortSignal.timeout(5000),
        })
      } catch {
        return false // restarting: retry
      }
      if (r.ok) {
        await r.body?.cancel()
        return true
      }
      if (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429) {
        refused = { status: r.status, text: await r.text().catch(() => '') }
        return true
      }
      await r.body?.cancel()
      return false
    },
    { timeoutMs: 60_000, what: `${p.spec.name} to accept its assignment`, intervalMs: 200, failFast: true },
  )
  if (!refused) return
  let detail = refused.text.slice(0, 300)
  try {
    detail = (JSON.parse(refused.text) as { error: { message: string } }).error.message
  } catch {
    /* not our error shape: keep the text */
  }
  if (refused.status === 409) {
    const view = await getJson<AssignmentView>(`${p.url}/v1/assignment`, 2000)
    throw new StaleAssignmentError(p.spec.name, generation, view?.generation, detail)
  }
  throw new Error(`${p.spec.name} refused its assignment (HTTP ${refused.status}): ${detail}`)
}

/**
 * Waits until every target reader owns exactly its range at this generation, reporting progress
 * (partitions still moving) about once a second.
 */
export async function converge(
  targets: readonly { p: ManagedProcess; partitions: string }[],
  generation: number,
  progress: (msg: string) => void,
  timeoutMs = 120_000,
): Promise<void> {
  let lastReport = 0
  await waitFor(
    async () => {
      const views = await Promise.all(targets.map(({ p }) => getJson<AssignmentView>(`${p.url}/v1/assignment`, 2000)))
      let moving = 0
      let done = true
      views.forEach((v, i) => {
        const want = parsePartitions(targets[i]!.partitions)
        const owned = new Set(parsePartitions(v?.owned ?? ''))
        const ok = v !== undefined && v.generation === generation && formatPartitions(owned) === formatPartitions(want) && !v.draining && !v.waiting
        if (!ok) done = false
        moving += want.filter((x) => !owned.has(x)).length
      })
      if (!done && Date.now() - lastReport >= 1000) {
        lastReport = Date.now()
        const draining = views.map((v, i) => (v?.draining ? `${targets[i]!.p.spec.name} draining ${v.draining}` : '')).filter(Boolean)
        progress(`${moving} partition(s) still moving${draining.length ? ` (${draining.join(', ')})` : ''}`)
      }
      return done
    },
    { timeoutMs, what: 'readers to converge on the new partition plan', intervalMs: 200, failFast: true },
  )
}
