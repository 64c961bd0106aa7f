import pg from 'pg'
import type { Logger } from 'pino'
import { tryLocks, unlocks } from './sql.js'

/**
 * The fence: one dedicated PostgreSQL session holding a session-level advisory lock per owned partition.
 * Locks live exactly as long as this session, so a reader that dies, or whose connection dies, loses
 * them all at once; `onLost` then tells the owner to stop serving everything immediately. A heartbeat
 * notices a session that went silent (a cut network) instead of waiting for TCP to give up.
 */
export class PartitionLocks {
  private client: pg.Client | undefined
  private heartbeat: NodeJS.Timeout | undefined
  private closed = false

  constructor(
    private readonly url: string,
    private readonly name: string,
    private readonly onLost: (err: unknown) => void,
    private readonly log: Logger,
    private readonly heartbeatMs = 1000,
  ) {}

  get connected(): boolean {
    return this.client !== undefined
  }

  async connect(): Promise<void> {
    if (this.client || this.closed) return
    const client = new pg.Client({
      connectionString: this.url,
      application_name: `tpipe-mqreader-locks:${this.name}`.slice(0, 63),
      keepAlive: true,
      connectionTimeoutMillis: 5000,
    })
    client.on('error', (err) => this.lose(client, err))
    client.on('end', () => this.lose(client, new Error('lock connection ended')))
    await client.connect()
    if (this.closed) {
      await client.end().catch(() => {})
      return
    }
    this.client = client
    let beating = false
    this.heartbeat = setInterval(() => {
      if (beating) return
      beating = true
      const timer = setTimeout(() => this.lose(client, new Error('lock connection heartbeat timed out')), Math.max(3000, this.heartbeatMs * 3))
      client
        .query('SELECT 1')
        .then(
          () => undefined,
          (err: unknown) => this.lose(client, err),
        )
        .finally(() => {
          clearTimeout(timer)
          beating = false
        })
    }, this.heartbeatMs)
    this.heartbeat.unref()
  }

  private lose(client: pg.Client, err: unknown): void {
    if (this.client !== client) return
    this.client = undefined
    clearInterval(this.heartbeat)
    // Ending the session releases whatever it still holds on the server side.
    client.end().catch(() => {})
    if (!this.closed) {
      this.log.warn({ err: (err as Error)?.message }, 'partition lock connection lost: stopping service of every partition')
      this.onLost(err)
    }
  }

  /** Takes the locks it can; returns those taken. Throws (after reporting the loss) when the session fails. */
  async tryLock(partitions: readonly number[]): Promise<number[]> {
    const c = this.client
    if (!c) throw new Error('lock connection is down')
    try {
      const r = await c.query<number[]>(tryLocks(partitions))
      return r.rows.map((row) => row[0]!)
    } catch (err) {
      this.lose(c, err)
      throw err
    }
  }

  async unlock(partitions: readonly number[]): Promise<void> {
    const c = this.client
    if (!c) return // the session is gone: so are its locks
    try {
      await c.query(unlocks(partitions))
    } catch (err) {
      this.lose(c, err)
      throw err
    }
  }

  /** Ends the session: the server releases every lock it held. */
  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.heartbeat)
    const c = this.client
    this.client = undefined
    if (c) await c.end().catch(() => {})
  }
}
