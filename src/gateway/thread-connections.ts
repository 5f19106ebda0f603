/**
 * The gateway's client connections as the proxy threads count them (src/worker/client-count.ts,
 * uWS's `app.filter` hook): exact and nearly free to read, so the connection limit needs none of
 * the kernel-table bounds of src/gateway/connection-limit.ts's ClientConnections. Used where the
 * loaded uWS build has the hook (src/startup/threads.ts asks src/uws).
 */
import { W_CLIENT_CONNECTIONS, workerBase } from '../table/layout'
import type { ConnectionSource, Observation } from './connection-limit'

export class ThreadConnections implements ConnectionSource {
  readonly exact = true

  constructor (private readonly i32: Int32Array, private readonly threads: number) {}

  /** The sum over the threads' words. A word below 0 (a thread's last closes racing the reset of its replacement) counts as 0. */
  count (): number {
    let n = 0
    for (let w = 0; w < this.threads; w++) n += Math.max(0, Atomics.load(this.i32, workerBase(w) + W_CLIENT_CONNECTIONS))
    return n
  }

  /** Every count is exact and fresh. */
  recentCount (_maxAgeMs: number): number {
    return this.count()
  }

  /** The exact count stands for every bound (ConnectionLimit reads `count()` when `exact`). */
  observe (): Observation {
    return { inuse: this.count(), passiveOpens: 0, ownFds: null }
  }

  ownFds (): number {
    return this.count()
  }
}
