#!/usr/bin/env node
// Writes oclif.manifest.json (what `oclif manifest` writes) from the built commands in dist/, so the
// installed CLI reads one JSON file at start-up instead of importing every command module. Run by
// `npm pack` / `npm publish` (prepack); `postpack` removes it again so a checkout never uses a stale one.
// Also copies package-lock.json to image-package-lock.json: npm never packs package-lock.json, and the
// image `tpipe up` builds from an installed package needs the lock file (Dockerfile: ARG LOCKFILE).
import { copyFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Plugin } from '@oclif/core'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const plugin = new Plugin({ root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true })
await plugin.load()
const file = join(root, 'oclif.manifest.json')
writeFileSync(file, JSON.stringify(plugin.manifest, null, 2) + '\n')
console.log(`wrote ${file}: ${Object.keys(plugin.manifest.commands).length} commands (version ${plugin.manifest.version})`)
copyFileSync(join(root, 'package-lock.json'), join(root, 'image-package-lock.json'))
console.log(`wrote ${join(root, 'image-package-lock.json')} (the image's lock file in the npm package)`)
