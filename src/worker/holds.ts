/** An exchange waiting for a healthy backend. */
export interface Holdable {
  /**
   * A backend is healthy again: pick one and send. `since` is when the hold began. Returns
   * HOLD_SENT, HOLD_AGAIN (no backend could be picked after all: held again, same deadline) or
   * HOLD_GAVE_UP (its time was over: it called `gaveUp()` and then answered 503).
   */
  holdReady (since: number): number
  /** Waited `--queue-timeout` in vain (or the gateway is closing): answer 503. */
  holdExpired (): void
  /** Answered otherwise, or the client went away, meanwhile: drop it silently. */
  readonly over: boolean
}

export const HOLD_SENT = 0
export const HOLD_AGAIN = 1
export const HOLD_GAVE_UP = 2

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

  /**
   * Hold `x`; false when holding is off, the queue is full, or `x` has already waited its
   * whole `--queue-timeout` (the caller answers 503). `since` is when `x` was first held: a
   * request released but still finding no backend (every one suspect) is held again with its
   * original deadline, and counted once.
   */
  tryHold (x: Holdable, since = -1): boolean {
    if (this.timeoutMs <= 0 || this.entries.length >= this.limit) return false
    const now = this.now()
    const first = since < 0
    const start = first ? now : since
    if (now - start >= this.timeoutMs) return false
    this.entries.push({ x, deadline: start + this.timeoutMs, since: start })
    if (first) this.events.held()
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
        if (e.deadline <= now || e.x.over) this.release(e, now, true)
        else this.entries[keep++] = e
      }
      this.entries.length = keep
    }
    if (this.entries.length === 0) this.stop()
  }

  /**
   * A released request that still found no backend and is past its deadline gives up: count it
   * now, before its 503 leaves, so a client that reads /metrics right after the answer sees it.
   */
  gaveUp (since: number): void {
    this.events.released(this.now() - since, true)
  }

  /** Answer everything still held with 503 (the worker is closing). Idempotent. */
  close (): void {
    const now = this.now()
    for (const e of this.entries.splice(0)) this.release(e, now, true)
    this.stop()
  }

  private release (e: Entry, now: number, expired: boolean): void {
    if (e.x.over) {
      this.events.released(now - e.since, false)
      return
    }
    if (expired) {
      this.events.released(now - e.since, true)
      e.x.holdExpired()
    } else {
      // Counted once, when it finally goes or gives up (then by gaveUp(), before the 503 is
      // written); not while it is held again.
      if (e.x.holdReady(e.since) === HOLD_SENT) this.events.released(now - e.since, false)
    }
  }

  private stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }
}
