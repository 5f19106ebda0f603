import { ProxyErrorCodes } from '../errors'
import { ErrorReason, MAX_BACKENDS } from '../table/layout'
import type { TableReader } from '../table/reader'
import { backendName } from './backend-name'
import { Connection, UpstreamError, type ConnectionOwner, type CoarseClock, type UpstreamHandler, type UpstreamRequest } from './connection'

export interface UpstreamOptions {
  readonly connectTimeoutMs: number
  readonly responseTimeoutMs: number
}

/**
 * Idle keep-alive connections are closed after this. Node's http server closes idle ones at 5 s
 * (uWS at 10 s); a request written on a connection the server is closing fails with a reset
 * and marks a healthy backend suspect, so stay well inside: 3 s is also what undici ends up with
 * against Node's `Keep-Alive: timeout=5` (hint minus its 2 s threshold).
 */
const KEEP_ALIVE_MS = 3_000

/**
 * The keep-alive connections to one backend: a stack of idle ones (the most recently used is
 * reused first, so a quiet period lets the others expire) and the set of all of them for the
 * timeout sweep. No limit on connections, like undici's Pool: one per concurrent request.
 */
export class Upstream implements ConnectionOwner {
  private readonly idle: Connection[] = []
  readonly all = new Set<Connection>()
  private closing = false

  /** How log lines name this backend (src/worker/backend-name.ts), made once. */
  readonly name: string

  constructor (private readonly clock: CoarseClock, readonly host: string, readonly port: number) {
    this.name = backendName(host, port)
  }

  private get hostHeader (): string { return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}` }

  /** Send `req` on an idle connection, or a new one. */
  dispatch (req: UpstreamRequest, handler: UpstreamHandler): void {
    let conn = this.idle.pop()
    // Skip closed ones, and ones idle too long that the sweep has not reached yet.
    while (conn !== undefined && (!conn.idle || this.clock.now - conn.lastActive > KEEP_ALIVE_MS)) {
      if (conn.idle) conn.destroy()
      conn = this.idle.pop()
    }
    if (conn === undefined) {
      conn = new Connection(this, this.clock, this.host, this.port, this.hostHeader)
      this.all.add(conn)
    }
    conn.send(req, handler)
  }

  /** A connection finished its exchange and can carry another. */
  release (conn: Connection): void {
    if (this.closing) conn.destroy()
    else this.idle.push(conn)
  }

  /** A connection closed. */
  forget (conn: Connection): void {
    this.all.delete(conn)
    const i = this.idle.indexOf(conn)
    if (i >= 0) this.idle.splice(i, 1)
  }

  /** Close every connection; exchanges in flight fail. */
  destroy (): void {
    this.closing = true
    for (const conn of [...this.all]) conn.destroy()
  }

  /**
   * The backend left the table (replaced after failing, or removed after its drain): close every
   * connection, and fail the exchanges still waiting on it with `err`, so that they are retried
   * elsewhere where the retry rules allow, or answered now, rather than waiting out
   * --response-timeout on a replica that is being killed, or on a lost node that will never
   * answer nor reset them.
   */
  abandon (err: UpstreamError): void {
    this.closing = true
    for (const conn of [...this.all]) {
      if (conn.busy) conn.fail(err)
      else conn.destroy()
    }
  }
}

/** What the exchanges still in flight to a backend that left the table fail with. */
function departed (): UpstreamError {
  return new UpstreamError('the backend left the rotation (replaced or drained) before answering', ProxyErrorCodes.UPSTREAM_FAILED, ErrorReason.RESET)
}

/**
 * One {@link Upstream} per backend slot, per worker. A slot reused for a new container gets a
 * fresh one and the old one is abandoned: a backend leaves the table only once it failed (it is
 * being killed) or was drained (--drain-timeout is over), so what is still in flight there is
 * failed at once and retried where the rules allow (Upstream.abandon). `sweep()` runs from
 * the worker's maintenance tick, never per request.
 *
 * Timeouts: one interval per worker walks the connections (undici's fast timers idea) instead
 * of a timer per request; it also advances the coarse clock every connection stamps its
 * activity with, so the request path reads no clock for timeouts.
 * Precision is one tick (a quarter of the shortest timeout, at most 250 ms).
 */
export class PoolSet implements CoarseClock {
  private readonly pools: Array<Upstream | undefined> = new Array(MAX_BACKENDS)
  private readonly ids = new Int32Array(MAX_BACKENDS)
  private readonly timer: NodeJS.Timeout
  /** The coarse clock (ms) connections read. */
  now = performance.now()

  constructor (private readonly reader: TableReader, private readonly options: UpstreamOptions) {
    const tick = Math.max(10, Math.min(250, Math.floor(Math.min(options.connectTimeoutMs, options.responseTimeoutMs) / 4)))
    this.timer = setInterval(() => { this.sweepTimeouts() }, tick)
    this.timer.unref()
  }

  /** The upstream for backend `id` in `slot`, or null when the slot has moved on since it was picked. */
  get (slot: number, id: number): Upstream | null {
    const pool = this.pools[slot]
    if (pool !== undefined && this.ids[slot] === id) return pool
    const snap = this.reader.readSlot(slot)
    if (snap.id !== id) return null
    if (pool !== undefined) pool.abandon(departed())
    const fresh = new Upstream(this, snap.host, snap.port)
    this.pools[slot] = fresh
    this.ids[slot] = id
    return fresh
  }

  /** Abandon pools whose slot now holds another backend or none. */
  sweep (): void {
    for (let slot = 0; slot < MAX_BACKENDS; slot++) {
      const pool = this.pools[slot]
      if (pool === undefined || this.reader.slotId(slot) === this.ids[slot]) continue
      this.pools[slot] = undefined
      this.ids[slot] = 0
      pool.abandon(departed())
    }
  }

  private sweepTimeouts (): void {
    const now = performance.now()
    this.now = now
    const { connectTimeoutMs, responseTimeoutMs } = this.options
    for (let slot = 0; slot < MAX_BACKENDS; slot++) {
      const pool = this.pools[slot]
      if (pool === undefined) continue
      for (const conn of pool.all) {
        const quiet = now - conn.lastActive
        if (conn.connecting) {
          if (quiet > connectTimeoutMs) conn.timeout(new UpstreamError('connect timeout', ProxyErrorCodes.UPSTREAM_TIMEOUT, ErrorReason.CONNECT))
        } else if (conn.busy) {
          if (quiet > responseTimeoutMs) conn.timeout(new UpstreamError('no response data within --response-timeout', ProxyErrorCodes.UPSTREAM_TIMEOUT, ErrorReason.TIMEOUT))
        } else if (quiet > KEEP_ALIVE_MS) {
          conn.destroy()
        }
      }
    }
  }

  /** Destroy every pool (worker shutdown: in-flight requests were drained before). */
  async close (): Promise<void> {
    clearInterval(this.timer)
    for (let slot = 0; slot < MAX_BACKENDS; slot++) {
      const pool = this.pools[slot]
      if (pool === undefined) continue
      this.pools[slot] = undefined
      pool.destroy()
    }
  }
}
