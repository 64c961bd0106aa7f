// `tpipe down`: deletes the kind cluster `tpipe up` created. Succeeds when there is none (checked with
// `kind get clusters` first, so the message says which case it was).
import { CommandFailed, type Executor } from './exec.js'

export interface DownResult {
  cluster: string
  deleted: boolean
  message: string
}

export async function runDown(name: string, exec: Executor): Promise<DownResult> {
  const list = await exec({ tool: 'kind', args: ['get', 'clusters'] })
  if (list.exitCode !== 0) throw new CommandFailed(list, 'is Docker running? kind needs it even to list clusters')
  const exists = list.stdout.split('\n').map((l) => l.trim()).includes(name)
  if (!exists) return { cluster: name, deleted: false, message: `no kind cluster named "${name}": nothing to delete` }
  const del = await exec({ tool: 'kind', args: ['delete', 'cluster', '--name', name] })
  if (del.exitCode !== 0) throw new CommandFailed(del)
  return { cluster: name, deleted: true, message: `deleted kind cluster "${name}"` }
}
