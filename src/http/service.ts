// The shape every service has, whatever it does: its one factory (buildMqwriter, buildCollector, …)
// returns a Service, and runService (run.ts) starts and stops every one of them the same way. Tests
// use the same object: inject() or listen() on `app`, then start() when the test needs the loops.
import type { FastifyInstance } from 'fastify'

/** What every service factory returns: the HTTP app and, when it has any, the work it runs beside it. */
export interface Service {
  app: FastifyInstance
  /**
   * Starts the background work (worker loops, streaming, leader election) once the app listens.
   * A service whose work ends by itself (streamer --loops N) calls `host.finish()`; the process then
   * shuts down like on SIGTERM, with exit code 1 when given an error.
   */
  start?(host: ServiceHost): Promise<void> | void
  /** Stops the background work, before the app closes. Must be idempotent: app.close() may call it too. */
  stop?(): Promise<void> | void
}

export interface ServiceHost {
  /** The address the app listens on, e.g. http://127.0.0.1:8080. */
  readonly address: string
  /** Ends the process gracefully: exit 0, or 1 with `err`. */
  finish(err?: unknown): void
}
