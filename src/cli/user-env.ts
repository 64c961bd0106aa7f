// A process may run as a uid that has no passwd entry (OpenShift's random uids, a changed runAsUser, the
// postgres image's 10001): os.userInfo() then throws (`uv_os_get_passwd returned ENOENT`) and os.homedir()
// too when HOME is unset. oclif calls os.userInfo() for the shell name unless SHELL is set, so every
// command died before doing anything. Imported first by bin/run.js and bin/dev.js: it fills in SHELL and
// HOME (only when they are missing and there is no passwd entry), so nothing downstream asks for one.
import { tmpdir, userInfo } from 'node:os'

/** Sets SHELL/HOME when they are missing and the uid has no passwd entry. Returns what it set. */
export function ensureUserEnv(env: NodeJS.ProcessEnv = process.env, lookup: () => unknown = userInfo): Record<string, string> {
  if (env.SHELL && env.HOME) return {}
  try {
    lookup()
    return {}
  } catch {
    const set: Record<string, string> = {}
    if (!env.SHELL) set.SHELL = '/bin/sh'
    // The image sets HOME=/tmp (the only writable path); elsewhere the system's temporary directory.
    if (!env.HOME) set.HOME = tmpdir()
    Object.assign(env, set)
    return set
  }
}

ensureUserEnv()
