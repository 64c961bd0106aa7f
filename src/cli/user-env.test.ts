// Issue 12 defect 6: any uid without a passwd entry (OpenShift's random uids, a changed runAsUser) must
// be able to run every command. Run for real as such a uid with setpriv (needs root, as CI runs), the way
// the image runs it (HOME=/tmp, no SHELL) and with neither HOME nor SHELL.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PACKAGE_ROOT } from '../paths.js'
import { ensureUserEnv } from './user-env.js'

/** A uid (and gid) that has no passwd entry on this machine. */
export const NO_PASSWD_UID = 10001

const isRoot = process.getuid?.() === 0

function asUid(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile('setpriv', ['--reuid', String(NO_PASSWD_UID), '--regid', String(NO_PASSWD_UID), '--clear-groups', 'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, ...args], { cwd: '/', timeout: 60_000 }, (err, stdout, stderr) =>
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

describe('a uid without a passwd entry', () => {
  it('ensureUserEnv fills in SHELL and HOME only when there is no passwd entry and they are missing', () => {
    const noEntry = () => {
      throw new Error('ENOENT: no such file or directory, uv_os_get_passwd returned ENOENT')
    }
    const env: NodeJS.ProcessEnv = { HOME: '/tmp' }
    expect(ensureUserEnv(env, noEntry)).toEqual({ SHELL: '/bin/sh' })
    expect(env).toEqual({ HOME: '/tmp', SHELL: '/bin/sh' })
    expect(Object.keys(ensureUserEnv({}, noEntry)).sort()).toEqual(['HOME', 'SHELL'])
    expect(ensureUserEnv({}, () => ({ uid: 1000, shell: '/bin/bash' }))).toEqual({})
    expect(ensureUserEnv({ SHELL: '/bin/zsh', HOME: '/h' }, noEntry)).toEqual({})
  })

  it.runIf(isRoot)(`tpipe (bin/run.js, as the image runs it) works as uid ${NO_PASSWD_UID} with no passwd entry`, async () => {
    expect(existsSync(join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'user-env.js')), 'npm run build first').toBe(true)
    const bin = join(PACKAGE_ROOT, 'bin', 'run.js')
    const PATH = process.env.PATH ?? '/usr/bin:/bin'
    const runs: [string[], Record<string, string>][] = [
      [['--version'], { PATH, HOME: '/tmp' }],
      [['serve', 'mqwriter', '--help'], { PATH }],
    ]
    for (const [args, env] of runs) {
      const r = await asUid([bin, ...args], env)
      expect(r.stderr, `${args.join(' ')} with ${Object.keys(env).join(',')}`).not.toMatch(/uv_os_get_passwd/)
      expect(r.code, `${args.join(' ')} with ${Object.keys(env).join(',')}: ${r.stderr}`).toBe(0)
    }
  }, 120_000)
})
