import type { Context, Row } from '../main.js'

export async function apiSuite(ctx: Context): Promise<Row[]> {
  ctx.log('api: not built yet')
  throw new Error('the api suite is not built yet')
}
