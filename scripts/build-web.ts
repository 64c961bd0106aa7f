// Builds the dashboard (src/web/client) into dist/web at package build time: one minified ES module and
// one stylesheet with content hashes in their names (served as immutable by apigw), index.html pointing
// at them (served no-cache), and a gzip copy of each so apigw sends compressed bytes without work per request.
import { build } from 'esbuild'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join, relative } from 'node:path'
import { gzipSync } from 'node:zlib'
import { PACKAGE_ROOT } from '../src/paths.js'

export const WEB_OUT = join(PACKAGE_ROOT, 'dist', 'web')

export async function buildWeb(out = WEB_OUT): Promise<{ files: Record<string, number> }> {
  const src = join(PACKAGE_ROOT, 'src', 'web', 'client')
  rmSync(out, { recursive: true, force: true })
  mkdirSync(join(out, 'assets'), { recursive: true })
  const result = await build({
    absWorkingDir: PACKAGE_ROOT,
    entryPoints: { app: join(src, 'main.ts') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
    outdir: join(out, 'assets'),
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  })
  const outputs = Object.keys(result.metafile.outputs).map((f) => join(PACKAGE_ROOT, f))
  const js = outputs.find((f) => f.endsWith('.js'))
  const css = outputs.find((f) => f.endsWith('.css'))
  if (!js || !css) throw new Error(`esbuild produced no ${js ? 'stylesheet' : 'script'}`)
  const html = readFileSync(join(src, 'index.html'), 'utf8')
    .replace('{{js}}', `assets/${basename(js)}`)
    .replace('{{css}}', `assets/${basename(css)}`)
  writeFileSync(join(out, 'index.html'), html)
  const files: Record<string, number> = {}
  for (const f of [join(out, 'index.html'), js, css]) {
    const body = readFileSync(f)
    writeFileSync(`${f}.gz`, gzipSync(body, { level: 9 }))
    files[relative(out, f)] = body.length
  }
  return { files }
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) {
  const { files } = await buildWeb()
  console.log(`dashboard built into ${relative(PACKAGE_ROOT, WEB_OUT)}: ${Object.entries(files).map(([f, n]) => `${f} ${(n / 1024).toFixed(1)} KiB`).join(', ')}`)
}
