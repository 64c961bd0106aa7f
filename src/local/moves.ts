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

export async function putAssignment(p: ManagedProcess, partitions: string, generation: number, headers: Record<string, string> = {}): Promise<void> {
  await waitFor(
    async () => {
      try {
        const r = await fetch(`${p.url}/v1/assignment`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ partitions, generation } satisfies AssignmentPut),
          signal: AbortSignal.timeout(5000),
        })
        await r.body?.cancel()
        return r.ok || r.status === 409 // 409: it already has a newer generation
      } catch {
        return false // restarting: retry
      }
    },
    { timeoutMs: 60_000, what: `${p.spec.name} to accept its assignment`, intervalMs: 200, failFast: true },
  )
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
