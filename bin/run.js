#!/usr/bin/env node
// The `tpipe` executable: runs the compiled commands in dist/ (npm run build).
// First: SHELL/HOME for a uid without a passwd entry (oclif would call os.userInfo() and die).
import '../dist/src/cli/user-env.js'
import { execute, settings } from '@oclif/core'

// Always the compiled commands: with NODE_ENV=test or development (a test runner, a shell that exports it)
// oclif would otherwise look for TypeScript sources next to a tsconfig.json and warn once per command.
// bin/dev.js is the entry that runs the sources.
settings.enableAutoTranspile = false
await execute({ dir: import.meta.url })
