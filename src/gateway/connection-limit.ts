/**
 * --max-connections: when the gateway holds that many client connections, every proxy worker
 * closes its listen socket (new connections are refused; open ones keep being served); when the
 * count is back at 90 %, they listen again.
 *
 * The count is polled from the main thread. Where the uWS build has an open/close hook for HTTP
 * connections (`app.filter`), the threads count their own (src/gateway/thread-connections.ts);
 * uWS 20.30 has none, so there it comes from the kernel (src/gateway/proc-net.ts). Either way it
 * is a soft limit: what arrives within one poll is accepted before the pause.
 *
 * The exact count reads the whole TCP table of the network namespace, and the kernel spends about
 * 2 µs per socket formatting it (measured here: 15 ms for 4 800 sockets, 32 ms for 15 000), so
 * each poll first tries two bounds that cost a few small reads, and reads the table only when
 * neither proves the decision (`connectionBound`).
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs'
import type { Logger } from '../log'
import { countSockets, listenerTables, snmpPassiveOpens, sockstatInuse, type ListenerTables, type SocketMatch } from './proc-net'

/** Cheap readings, each an upper bound of the count or of its growth. */
export interface Observation {
  /** Every TCP socket of the network namespace (sockstat `inuse`, IPv4 + IPv6). */
  readonly inuse: number
  /** Connections the namespace accepted so far (cumulative). */
  readonly passiveOpens: number
  /**
   * This process's open file descriptors, or null when not read (it costs O(own descriptors), so
   * only when the other two do not decide). Every client connection holds one.
   */
  readonly ownFds: number | null
}

/** An exact count and the observation read just before it. */
export interface Anchor {
  readonly count: number
  readonly passiveOpens: number
}

/** Connections counted for the limit. */
export interface ConnectionSource {
  /**
   * `count()` is exact and cheap (the threads' own count, src/gateway/thread-connections.ts):
   * every poll reads it and no bound is needed.
   */
  readonly exact: boolean
  /** The cheap readings (`ownFds` null). */
  observe (): Observation
  /** This process's open file descriptors. */
  ownFds (): number
  /** The exact count (the expensive read, unless `exact`). */
  count (): number
  /** A count at most `maxAgeMs` old, for /metrics and /status. */
  recentCount (maxAgeMs: number): number
}

/** How old a count /metrics may show (ClientConnections.recentCount). */
export const CONNECTION_COUNT_MAX_AGE_MS = 5000

/** Whoever opens and closes the listen sockets (ProxyWorkers). */
export interface AcceptGate {
  setAccepting (accepting: boolean): void
}

/** The count at which a paused gateway accepts again: a tenth below the limit, at least one below. */
export function resumeAt (limit: number): number {
  return limit - Math.max(1, Math.ceil(limit / 10))
}

/**
 * Whether to accept after seeing `count` connections: pause at `limit`, resume at `resumeAt`
 * (hysteresis, so a gateway at the edge does not close and reopen its sockets every poll).
 * Monotone in `count`, so a bound that says "accept" proves the exact count would too.
 */
export function shouldAccept (accepting: boolean, count: number, limit: number): boolean {
  return accepting ? count < limit : count <= resumeAt(limit)
}

/**
 * The smallest proven upper bound of the count now: every TCP socket of the namespace, or the
 * last exact count plus every connection accepted since (connections only ever arrive by a passive
 * open), or this process's open file descriptors. The second keeps a busy gateway below its limit
 * from reading the table every poll: it grows only with new connections, not with open ones or
 * with upstream sockets. The third does not grow with other processes' sockets or with TIME_WAIT.
 */
export function connectionBound (now: Observation, anchor: Anchor | null): number {
  let bound = now.inuse
  if (anchor !== null) bound = Math.min(bound, anchor.count + (now.passiveOpens - anchor.passiveOpens))
  if (now.ownFds !== null) bound = Math.min(bound, now.ownFds)
  return bound
}

/**
 * This gateway's established client connections on Linux: the server side of every TCP
 * connection whose local end is the listener's port (and address, unless it is a wildcard).
 */
export class ClientConnections implements ConnectionSource {
  readonly exact = false
  private readonly tables: ListenerTables
  /** Reused across reads: the table is megabytes at thousands of connections. */
  private buf = Buffer.allocUnsafe(1 << 20)
  private last = 0
  private lastAt = -1

  constructor (host: string, port: number) {
    this.tables = listenerTables(host, port)
  }

  observe (): Observation {
    const v6 = this.read('/proc/net/sockstat6')
    const inuse = sockstatInuse(readFileSync('/proc/net/sockstat', 'latin1')) + (v6 === null ? 0 : sockstatInuse(v6.toString('latin1')))
    return { inuse, passiveOpens: snmpPassiveOpens(readFileSync('/proc/net/snmp', 'latin1')), ownFds: null }
  }

  ownFds (): number {
    return readdirSync('/proc/self/fd').length
  }

  count (): number {
    const n = this.countTable('/proc/net/tcp', this.tables.tcp) + this.countTable('/proc/net/tcp6', this.tables.tcp6)
    this.last = n
    this.lastAt = performance.now()
    return n
  }

  /**
   * The last exact count when it is younger than `maxAgeMs`, else a new one: for /metrics, so a
   * scrape every second does not read tables of TIME_WAIT sockets every second (a connection per
   * request leaves tens of thousands of them, hundreds of ms of kernel time per read).
   */
  recentCount (maxAgeMs: number): number {
    return this.lastAt >= 0 && performance.now() - this.lastAt < maxAgeMs ? this.last : this.count()
  }

  private countTable (file: string, match: SocketMatch | null): number {
    if (match === null) return 0
    const table = this.read(file)
    return table === null ? 0 : countSockets(table, match)
  }

  /** A procfs file into the reused buffer, or null when the kernel has no such file (no IPv6). */
  private read (file: string): Buffer | null {
    let fd: number
    try {
      fd = openSync(file, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
    try {
      let length = 0
      for (;;) {
        if (length === this.buf.length) {
          const bigger = Buffer.allocUnsafe(this.buf.length * 2)
          this.buf.copy(bigger, 0, 0, length)
          this.buf = bigger
        }
        const n = readSync(fd, this.buf, length, this.buf.length - length, null)
        if (n === 0) return this.buf.subarray(0, length)
        length += n
      }
    } finally {
      closeSync(fd)
    }
  }
}

export interface ConnectionLimitOptions {
  /** Connections at which accepting pauses (> 0). */
  readonly limit: number
  readonly connections: ConnectionSource
  readonly gate: AcceptGate
  readonly log: Logger
  /** Time between counts; what arrives within one is the limit's overshoot. */
  readonly intervalMs?: number
}

/**
 * Table reads take at most this share of the main thread's time (a 30 ms read, 15 000 sockets:
 * one every 0.3 s; a 400 ms read, 150 000 TIME_WAIT sockets after a burst of short connections:
 * one every 4 s rather than a main thread busy reading), so the health checks, the autoscaler and
 * /metrics keep their thread. The price is a later pause, so a larger overshoot, only when the
 * tables are that large.
 */
const COUNT_SHARE = 0.1
/**
 * While paused, less (nothing is at stake but the resume), but at least every 2 s, so the resume
 * is never more than that late.
 */
const PAUSED_COUNT_SHARE = 0.02
const PAUSED_COUNT_MAX_GAP_MS = 2000

/** The poll: one timer, re-armed after each count, cleared by `close()`. */
export class ConnectionLimit {
  /** Times accepting paused. */
  pauses = 0
  /** Polls that had to read the socket tables. */
  exactCounts = 0
  accepting = true
  private anchor: Anchor | null = null
  private timer: NodeJS.Timeout | null = null
  private closed = false
  private pausedAt = 0
  /** performance.now() before which the tables are not read again (COUNT_SHARE). */
  private nextCount = 0
  private failing = false
  private readonly intervalMs: number

  constructor (private readonly options: ConnectionLimitOptions) {
    this.intervalMs = options.intervalMs ?? 250
  }

  start (): void {
    if (this.timer !== null || this.closed) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.tick()
      this.start()
    }, this.intervalMs)
    this.timer.unref()
  }

  /** One decision: from a cheap bound when one proves it, else from an exact count. */
  tick (): void {
    const { limit, connections, log } = this.options
    try {
      if (connections.exact) {
        const count = connections.count()
        this.failing = false
        this.transition(shouldAccept(this.accepting, count, limit), count)
        return
      }
      const now = connections.observe()
      let count = connectionBound(now, this.anchor)
      let accept = shouldAccept(this.accepting, count, limit)
      if (!accept) {
        count = connectionBound({ ...now, ownFds: connections.ownFds() }, this.anchor)
        accept = shouldAccept(this.accepting, count, limit)
      }
      let exact = false
      if (!accept) {
        const t0 = performance.now()
        if (t0 < this.nextCount) return
        count = connections.count()
        const t1 = performance.now()
        this.nextCount = t1 + (this.accepting ? (t1 - t0) / COUNT_SHARE : Math.min(PAUSED_COUNT_MAX_GAP_MS, (t1 - t0) / PAUSED_COUNT_SHARE))
        exact = true
        this.exactCounts++
        this.anchor = { count, passiveOpens: now.passiveOpens }
        accept = shouldAccept(this.accepting, count, limit)
      }
      this.failing = false
      if (accept === this.accepting) return
      if (!exact) count = connections.count() // for the log line only: a transition is rare
      this.transition(accept, count)
    } catch (err) {
      // The state stays as it is (a paused gateway stays paused) until a count succeeds.
      if (!this.failing) log.warn('cannot count client connections; retrying every poll', { error: (err as Error).message })
      this.failing = true
    }
  }

  /** Opens or closes the gate when `accept` differs from now; `count` is for the log line. */
  private transition (accept: boolean, count: number): void {
    if (accept === this.accepting) return
    const { limit, log } = this.options
    this.accepting = accept
    this.options.gate.setAccepting(accept)
    if (!accept) {
      this.pauses++
      this.pausedAt = Date.now()
      log.warn('connection limit reached: not accepting new connections', { connections: count, limit, resumeAt: resumeAt(limit) })
    } else {
      log.info('accepting new connections again', { connections: count, limit, pausedMs: Date.now() - this.pausedAt })
    }
  }

  /** Idempotent; the gate is left as it is (a drain closes the listen sockets anyway). */
  close (): void {
    this.closed = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }
}
