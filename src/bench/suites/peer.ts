import type { Context, Row } from '../main.js'

export async function peerSuite(ctx: Context): Promise<Row[]> {
  ctx.log('peer: not built yet')
  throw new Error('the peer suite is not built yet')
}
