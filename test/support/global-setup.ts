// Global setup of the integration and e2e projects: a real PostgreSQL for the whole run.
// TPIPE_TEST_DATABASE_URL wins (any PostgreSQL the caller runs); otherwise the embedded PostgreSQL under
// <repo>/.tpipe-test is started (and left running for the next run, like `tpipe db start`).
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { ensureEmbedded } from '../../src/db/embedded.js'

export const TEST_HOME = join(process.cwd(), '.tpipe-test')

export default async function setup(project: TestProject): Promise<void> {
  let url = process.env.TPIPE_TEST_DATABASE_URL
  if (!url) url = (await ensureEmbedded(TEST_HOME, (m) => console.log(`[test db] ${m}`))).url
  project.provide('adminDatabaseUrl', url)
  project.provide('testHome', TEST_HOME)
}

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string
    testHome: string
  }
}
