/** A thread's life: serving → draining (no new connections) → closed; or serving → closed. */
const LIFE_SERVING = 0
const LIFE_DRAINING = 1
const LIFE_CLOSED = 2

/**
 * How long a draining thread waits with nothing in flight and no exchange begun before it closes
 * its connections. A connection accepted just before the listen socket closed may not have
 * delivered its request yet; closing it then resets a request the client already sent (CI saw one
 * fresh connection of about 7,500 reset in a takeover). A request begun meanwhile restarts it.
 */
export const DRAIN_QUIET_MS = 250

/** What an answer needs to know of its thread's life: whether it is the connection's last. */
export interface DrainView {
  /**
   * The thread is draining: every answer from now on says `Connection: close` (RFC 9112
   * section 9.6), so a keep-alive client opens its next request elsewhere instead of sending it
   * on a connection that is about to close (issue #23).
   */
  readonly draining: boolean
}

/**
 * Drain: how a proxy thread finishes. It counts the exchanges in flight; on `drain` it stops
 * accepting and closes once the last one has ended; on `close` it closes at once. Closing runs
 * the thread's `close` steps once, and `closed` settles when they are done.
 *
 * Closing the App closes every connection still open: by then nothing is in flight, so these
 * are idle keep-alive connections (a clean FIN, which a keep-alive client takes as "open a new
 * one"). uWS 20.30 gives JavaScript no handle on a single idle connection (`app.filter` came in
 * 20.40), so idle connections close when the thread's last exchange has ended (at once when
 * none is in flight), and one that sends a request before then is answered with
 * `Connection: close`.
 */
export class ThreadLife implements DrainView {
  private inflight = 0
  private state = LIFE_SERVING
  private timer: NodeJS.Timeout | null = null
  private check: NodeJS.Immediate | null = null
  /** While draining: when the last exchange began (or the drain did), epoch ms. */
  private lastBegan = 0
  private settle: () => void = () => {}
  /** Settles once the thread's parts are closed. */
  readonly closed = new Promise<void>((resolve) => { this.settle = resolve })

  /** `close` stops accepting and closes every part; it resolves when the last one is closed. */
  constructor (private readonly closeParts: () => Promise<void>) {}

  get inFlight (): number { return this.inflight }
  get draining (): boolean { return this.state !== LIFE_SERVING }

  /** An exchange began (IntakeLife). */
  readonly began = (): void => {
    this.inflight++
    if (this.state !== LIFE_SERVING) this.lastBegan = Date.now()
  }

  /** An exchange ended (ProxyContext.onFinished). */
  readonly finished = (): void => {
    this.inflight--
    if (this.state === LIFE_DRAINING && this.inflight === 0) this.closeSoon()
  }

  /** Stop accepting (the caller closed the listen socket); close when nothing is in flight. */
  drain (): void {
    if (this.state !== LIFE_SERVING) return
    this.state = LIFE_DRAINING
    this.lastBegan = Date.now()
    if (this.inflight === 0) this.closeSoon()
  }

  /** Close now: open connections are cut. Idempotent. */
  close (): void {
    if (this.state === LIFE_CLOSED) return
    this.state = LIFE_CLOSED
    if (this.timer !== null) clearTimeout(this.timer)
    if (this.check !== null) clearImmediate(this.check)
    this.timer = null
    this.check = null
    void this.closeParts().finally(this.settle)
  }

  /**
   * Close once nothing was in flight and no exchange began for DRAIN_QUIET_MS (so the last
   * response had a moment to flush: `finished` runs inside res.cork(), and closing there would
   * drop its corked bytes; and a just-accepted connection's request has time to arrive).
   * Requests that arrive meanwhile on open connections are still served (and counted), with
   * `Connection: close`.
   */
  private closeSoon (): void {
    if (this.timer !== null || this.check !== null || this.state === LIFE_CLOSED) return
    const wait = Math.max(50, this.lastBegan + DRAIN_QUIET_MS - Date.now())
    this.timer = setTimeout(() => {
      this.timer = null
      // Timers run before the loop polls its sockets: after a stall (a thread descheduled on a
      // busy host, a GC pause) requests that arrived meanwhile are still unread, and closing now
      // would cut them (the likely cause of 4 keep-alive requests cut in the same millisecond in
      // test/takeover/systemd-takeover.test.ts at load average 20). setImmediate runs right
      // after the next poll, once they have begun.
      this.check = setImmediate(this.decide)
    }, wait)
  }

  private readonly decide = (): void => {
    this.check = null
    if (this.inflight !== 0 || this.state !== LIFE_DRAINING) return
    if (Date.now() - this.lastBegan >= DRAIN_QUIET_MS) this.close()
    else this.closeSoon()
  }
}
