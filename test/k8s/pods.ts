// "Run what the pods run", without a cluster: every container of the rendered manifests started as a
// local process the way the kubelet would start it — its command/args (the image's entrypoint when it
// has none), its env with ConfigMap/Secret/fieldRef values resolved from the render, its volumes (emptyDirs,
// ConfigMaps written as the kubelet's atomic ..data directories, the service account token) bind-mounted
// at their mountPaths, as its runAsUser/runAsGroup/fsGroup (a uid without a passwd entry: setpriv), in its
// own network namespace with its own address, hostname and port 8080. Service names resolve as in the
// cluster through /etc/netns/<ns>/hosts (which `ip netns exec` bind-mounts over /etc/hosts).
// Needs root (namespaces, mounts, setpriv) and iproute2, util-linux. Everything it creates is named with
// a per-run prefix and removed by cleanup(): namespaces, veths, the bridge, mount points it had to create,
// processes (by the process group it started).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { kubeletAtomicWrite } from '../support/kube-fake.js'

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML */
export type K8s = any

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/** The ENV of the Dockerfile's final stage (what the image gives every container). */
export function imageEnv(dockerfile: string): Record<string, string> {
  const final = dockerfile.split(/^FROM /m).at(-1)!
  const env: Record<string, string> = {}
  for (const m of final.matchAll(/^ENV ((?:[^\n]*\\\n)*[^\n]*)/gm)) {
    const text = m[1]!.replace(/\\\n/g, ' ')
    for (const kv of text.matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)) env[kv[1]!] = kv[2]!.replace(/^"|"$/g, '')
  }
  return env
}

export interface PodSpec {
  /** Pod name (hostname): mqreader-0, mqwriter-<n>, … */
  name: string
  owner: K8s
  spec: K8s
  labels: Record<string, string>
}

export interface Network {
  prefix: string
  bridge: string
  gateway: string
  subnet: string
  /** Pod name → address. */
  ips: Map<string, string>
  /** Pod name → network namespace. */
  netns: Map<string, string>
}

/** A free /24 under 10.0.0.0/8 that no route on this machine uses. */
function freeSubnet(): string {
  const routes = sh('ip', ['-4', 'route', 'show', 'table', 'all'])
  for (let i = 0; i < 50; i++) {
    const b = randomBytes(2)
    const net = `10.${200 + (b[0]! % 50)}.${b[1]}`
    if (!routes.includes(`${net}.`)) return net
  }
  throw new Error('no free 10.x.y.0/24 subnet')
}

/** What the run created, for cleanup (in reverse). */
export class Cluster {
  readonly prefix = `t12${randomBytes(2).toString('hex')}`
  readonly procs: { name: string; child: ChildProcess; log: string }[] = []
  private readonly createdDirs: string[] = []
  private readonly hostsDirs: string[] = []
  net: Network | undefined
  readonly workdir: string

  constructor(workdir: string) {
    this.workdir = workdir
  }

  /** Bridge + one namespace per pod (veth into the bridge, eth0 inside, default route via the bridge). */
  network(pods: string[]): Network {
    const subnet = freeSubnet()
    const bridge = `${this.prefix}br`
    const gateway = `${subnet}.1`
    const net: Network = { prefix: this.prefix, bridge, gateway, subnet, ips: new Map(), netns: new Map() }
    this.net = net
    sh('ip', ['link', 'add', 'name', bridge, 'type', 'bridge'])
    sh('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge])
    sh('ip', ['link', 'set', bridge, 'up'])
    pods.forEach((pod, i) => {
      const ns = `${this.prefix}-${pod}`
      const ip = `${subnet}.${i + 2}`
      const host = `${this.prefix}v${i}`
      sh('ip', ['netns', 'add', ns])
      net.netns.set(pod, ns)
      sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', `${host}p`])
      sh('ip', ['link', 'set', `${host}p`, 'netns', ns])
      sh('ip', ['-n', ns, 'link', 'set', `${host}p`, 'name', 'eth0'])
      sh('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0'])
      sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up'])
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
      sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', gateway])
      sh('ip', ['link', 'set', host, 'master', bridge])
      sh('ip', ['link', 'set', host, 'up'])
      net.ips.set(pod, ip)
    })
    return net
  }

  /** /etc/netns/<ns>/hosts of every namespace: localhost, the pod itself, and every name → addresses. */
  writeHosts(names: Map<string, string[]>): void {
    const net = this.net!
    for (const [pod, ns] of net.netns) {
      const dir = join('/etc/netns', ns)
      this.mountPoint(dir)
      this.hostsDirs.push(dir)
      const lines = ['127.0.0.1 localhost', '::1 localhost', `${net.ips.get(pod)} ${pod}`]
      for (const [name, ips] of names) for (const ip of ips) lines.push(`${ip} ${name}`)
      writeFileSync(join(dir, 'hosts'), `${lines.join('\n')}\n`)
    }
  }

  /** Creates a mount point on the host when missing (removed again at cleanup when still empty). */
  mountPoint(path: string): void {
    const missing: string[] = []
    for (let d = path; !existsSync(d); d = dirname(d)) missing.unshift(d)
    for (const d of missing) {
      mkdirSync(d)
      this.createdDirs.push(d)
    }
  }

  /**
   * Starts a process in a pod's namespaces: its own UTS (hostname = pod name), the pod's network and a
   * private mount namespace with `mounts` bind-mounted, then setpriv to uid/gid/groups and `env -i`.
   */
  start(o: { pod: string; container: string; argv: string[]; env: Record<string, string>; uid: number; gid: number; groups: number[]; mounts: { src: string; dst: string; readOnly: boolean }[] }): ChildProcess {
    const ns = this.net!.netns.get(o.pod)!
    for (const m of o.mounts) this.mountPoint(m.dst)
    const lines = ['#!/bin/sh', 'set -e', `hostname ${quote(o.pod)}`]
    for (const m of o.mounts) {
      lines.push(`mount --bind ${quote(m.src)} ${quote(m.dst)}`)
      if (m.readOnly) lines.push(`mount -o remount,bind,ro ${quote(m.dst)}`)
    }
    const groups = o.groups.length > 0 ? [`--groups=${o.groups.join(',')}`] : ['--clear-groups']
    lines.push(
      ['exec', 'setpriv', `--reuid=${o.uid}`, `--regid=${o.gid}`, ...groups, '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', 'env', '-i', ...Object.entries(o.env).map(([k, v]) => `${k}=${v}`), ...o.argv].map(quote).join(' '),
    )
    const script = join(this.workdir, `${o.pod}.${o.container}.sh`)
    writeFileSync(script, `${lines.join('\n')}\n`, { mode: 0o700 })
    const log = join(this.workdir, `${o.pod}.${o.container}.log`)
    const fd = openSync(log, 'a')
    const child = spawn('ip', ['netns', 'exec', ns, 'unshare', '--uts', '--', '/bin/sh', script], { stdio: ['ignore', fd, fd], detached: true })
    closeSync(fd)
    this.procs.push({ name: `${o.pod}/${o.container}`, child, log })
    return child
  }

  logOf(pod: string, container: string): string {
    const f = join(this.workdir, `${pod}.${container}.log`)
    return existsSync(f) ? readFileSync(f, 'utf8') : ''
  }

  /** SIGTERM to every process group started, SIGKILL after `graceMs`. */
  async stopProcesses(graceMs = 5000): Promise<void> {
    const alive = () => this.procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null)
    for (const p of alive()) {
      try {
        process.kill(-p.child.pid!, 'SIGTERM')
      } catch {
        /* gone */
      }
    }
    const deadline = Date.now() + graceMs
    while (alive().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    for (const p of alive()) {
      try {
        process.kill(-p.child.pid!, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
  }

  /** Namespaces, veths, the bridge, hosts files and the mount points this run created. */
  removeNetwork(): void {
    const net = this.net
    if (net) {
      for (const ns of net.netns.values()) {
        try {
          sh('ip', ['netns', 'delete', ns])
        } catch {
          /* already gone */
        }
      }
      try {
        sh('ip', ['link', 'delete', net.bridge])
      } catch {
        /* already gone */
      }
    }
    for (const d of this.hostsDirs) rmSync(d, { recursive: true, force: true })
    for (const d of this.createdDirs.reverse()) {
      try {
        rmdirSync(d)
      } catch {
        /* not empty or gone: leave it */
      }
    }
  }
}

/** A directory the pod's uid (and fsGroup) can write, like an emptyDir. */
export function emptyDir(path: string, uid: number, gid: number): string {
  mkdirSync(path, { recursive: true })
  chownSync(path, uid, gid)
  chmodSync(path, 0o2775)
  return path
}

/** A ConfigMap volume: its data (or the listed items) written the way the kubelet does. */
export function configMapDir(path: string, cm: K8s, items?: { key: string; path: string }[]): string {
  const data: Record<string, string | Buffer> = { ...(cm?.data ?? {}) }
  // binaryData as the bytes it encodes (the streamer's telemetry.csv.gz), not re-encoded as text.
  for (const [k, v] of Object.entries(cm?.binaryData ?? {})) data[k] = Buffer.from(String(v), 'base64')
  const files = items ? Object.fromEntries(items.map((i) => [i.path, data[i.key] ?? ''])) : data
  kubeletAtomicWrite(path, files)
  chmodSync(path, 0o755)
  return path
}
