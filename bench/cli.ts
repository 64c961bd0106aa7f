// Entry point of `npm run bench -- [suite…] [--duration S] [--runs N] [--out DIR]`.
import { parseBenchArgs, runBench } from './main.js'

try {
  await runBench(parseBenchArgs(process.argv.slice(2)))
  process.exit(0)
} catch (err) {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
}
