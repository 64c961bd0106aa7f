// Global setup of the integration and e2e projects: a real PostgreSQL for the whole run.
// TPIPE_TEST_DATABASE_URL wins (any PostgreSQL the caller runs); otherwise the embedded PostgreSQL under
// <repo>/.tpipe-test is started, and stopped again when the run ends if this run started it (a server
// that was already running is left as it was). TPIPE_TEST_KEEP_DB=1 keeps it running for the next run
// (saves its ~2 s start while iterating; stop it with `TPIPE_HOME=.tpipe-test tpipe db stop`).
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { ensureEmbedded, stopEmbedded } from '../../src/db/embedded.js'

export const TEST_HOME = join(process.cwd(), '.tpipe-test')

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  let url = process.env.TPIPE_TEST_DATABASE_URL
  let startedNow = false
  if (!url) {
    const db = await ensureEmbedded(TEST_HOME, (m) => console.log(`[test db] ${m}`))
    url = db.url
    startedNow = db.startedNow === true
  }
  project.provide('adminDatabaseUrl', url)
  project.provide('testHome', TEST_HOME)
  if (!startedNow || process.env.TPIPE_TEST_KEEP_DB === '1') return undefined
  return async () => {
    await stopEmbedded(TEST_HOME)
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string
    testHome: string
  }
}
