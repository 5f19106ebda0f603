/**
 * Drain: how a proxy thread finishes. It counts the exchanges in flight; on `drain` it stops
 * accepting and closes once the last one has ended; on `close` it closes at once. Closing runs
 * the thread's `close` steps once, and `closed` settles when they are done.
 */
export class ThreadLife {
  private inflight = 0
  private draining = false
  private over = false
  private timer: NodeJS.Timeout | null = null
  private settle: () => void = () => {}
  /** Settles once the thread's parts are closed. */
  readonly closed = new Promise<void>((resolve) => { this.settle = resolve })

  /** `close` stops accepting and closes every part; it resolves when the last one is closed. */
  constructor (private readonly closeParts: () => Promise<void>) {}

  get inFlight (): number { return this.inflight }

  /** An exchange began (IntakeLife). */
  readonly began = (): void => { this.inflight++ }

  /** An exchange ended (ProxyContext.onFinished). */
  readonly finished = (): void => {
    this.inflight--
    if (this.draining && this.inflight === 0) this.closeSoon()
  }

  /** Stop accepting (the caller closed the listen socket); close when nothing is in flight. */
  drain (): void {
    this.draining = true
    if (this.inflight === 0) this.closeSoon()
  }

  /** Close now: open connections are cut. Idempotent. */
  close (): void {
    if (this.over) return
    this.over = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    void this.closeParts().finally(this.settle)
  }

  /**
   * Close once the last response had a moment to flush. `finished` runs inside res.cork(), and
   * closing there would drop the corked bytes of the very response that just ended. Requests
   * that arrive meanwhile on open keep-alive connections are still served (and counted).
   */
  private closeSoon (): void {
    if (this.timer !== null || this.over) return
    this.timer = setTimeout(() => {
      this.timer = null
      if (this.inflight === 0) this.close()
    }, 50)
  }
}
