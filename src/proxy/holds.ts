/** An exchange waiting for a healthy backend. */
export interface Holdable {
  /** A backend is healthy again: pick one and send. */
  holdReady (): void
  /** Waited `--queue-timeout` in vain (or the gateway is closing): answer 503. */
  holdExpired (): void
  /** The client went away meanwhile: drop it silently. */
  readonly aborted: boolean
}

interface Entry { x: Holdable, deadline: number, since: number }

/** What the queue reports, for the worker's counters. */
export interface HoldEvents {
  held (): void
  released (waitedMs: number, expired: boolean): void
}

/**
 * Hold-while-starting (issue 6): when no backend is healthy (the only replica being replaced,
 * or start-up), requests wait up to `timeoutMs` for one instead of failing at once. Bounded:
 * at most `limit` per worker thread. One timer per queue, armed only while something waits, polls
 * the shared rotation every POLL_MS; requests are released in arrival order.
 */
export class HoldQueue {
  private readonly entries: Entry[] = []
  private timer: NodeJS.Timeout | null = null
  static readonly POLL_MS = 20

  constructor (
    private readonly limit: number,
    private readonly timeoutMs: number,
    private readonly hasBackend: () => boolean,
    private readonly events: HoldEvents,
    private readonly now: () => number = () => performance.now()
  ) {}

  get size (): number { return this.entries.length }

  /** Hold `x`; false when holding is off or the queue is full (the caller answers 503). */
  tryHold (x: Holdable): boolean {
    if (this.timeoutMs <= 0 || this.entries.length >= this.limit) return false
    const now = this.now()
    this.entries.push({ x, deadline: now + this.timeoutMs, since: now })
    this.events.held()
    if (this.timer === null) this.timer = setInterval(() => this.poll(), HoldQueue.POLL_MS)
    return true
  }

  /** Release what can go: all of it when a backend is healthy, the overdue ones otherwise. */
  poll (): void {
    const now = this.now()
    if (this.hasBackend()) {
      const ready = this.entries.splice(0)
      for (const e of ready) this.release(e, now, false)
    } else {
      let keep = 0
      for (let i = 0; i < this.entries.length; i++) {
        const e = this.entries[i]
        if (e.deadline <= now || e.x.aborted) this.release(e, now, true)
        else this.entries[keep++] = e
      }
      this.entries.length = keep
    }
    if (this.entries.length === 0) this.stop()
  }

  /** Answer everything still held with 503 (the worker is closing). Idempotent. */
  close (): void {
    const now = this.now()
    for (const e of this.entries.splice(0)) this.release(e, now, true)
    this.stop()
  }

  private release (e: Entry, now: number, expired: boolean): void {
    this.events.released(now - e.since, expired)
    if (e.x.aborted) return
    if (expired) e.x.holdExpired()
    else e.x.holdReady()
  }

  private stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }
}
