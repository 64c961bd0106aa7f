import type { Context, Row } from '../main.js'

export async function drainSuite(ctx: Context): Promise<Row[]> {
  ctx.log('drain: not built yet')
  throw new Error('the drain suite is not built yet')
}
