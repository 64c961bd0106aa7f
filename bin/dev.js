#!/usr/bin/env -S node --import tsx
// Development entry: runs the TypeScript commands directly through tsx, no build needed.
// First: SHELL/HOME for a uid without a passwd entry (oclif would call os.userInfo() and die).
import '../src/cli/user-env.ts'
import { execute } from '@oclif/core'

await execute({ development: true, dir: import.meta.url })
