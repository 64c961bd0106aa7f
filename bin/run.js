#!/usr/bin/env node
// The `tpipe` executable: runs the compiled commands in dist/ (npm run build).
// First: SHELL/HOME for a uid without a passwd entry (oclif would call os.userInfo() and die).
import '../dist/src/cli/user-env.js'
import { execute } from '@oclif/core'

await execute({ dir: import.meta.url })
