/**
 * Request bodies that arrive too slowly get a 408 instead of a silent close.
 *
 * uWebSockets.js 20.30 guards against clients that trickle a body: while a body is being read it
 * re-arms its 10 s socket timeout only after every 160 KiB received (HTTP_IDLE_TIMEOUT_S = 10,
 * HTTP_RECEIVE_THROUGHPUT_BYTES = 16 KiB/s, in its HttpContext.h), and when the timeout fires it
 * closes the connection without a word. uSockets checks timeouts every 4 s, so that close comes
 * 8 to 12 s after the last re-arm. This watch mirrors uWS's count and answers first, at
 * ANSWER_AFTER_MS, with 408 and `Connection: close`: the client learns why, and the exchange is
 * counted. The limits themselves are uWS's constants; they cannot be set from JavaScript.
 */

/** uWS re-arms its body timeout once this many bytes arrived since the last re-arm. */
export const UWS_BODY_REARM_BYTES = 16 * 1024 * 10
/** Answer 408 when a body has not reached the re-arm count within this time (before uWS's 8 s). */
export const ANSWER_AFTER_MS = 6500

/** What the watch needs of an exchange whose body is still arriving. */
export interface SlowBodyTarget {
  /** The body stalled: answer 408 and close. */
  bodyTooSlow (): void
  /** Answered, or the client went away: nothing to watch any more. */
  readonly over: boolean
}

interface Watched {
  target: SlowBodyTarget
  /** When uWS last re-armed (request start, then every UWS_BODY_REARM_BYTES). */
  since: number
  bytes: number
}

/**
 * One per proxy thread. `start()` when a request with a body begins, `feed()` for every chunk,
 * `sweep()` from the thread's maintenance tick. Only requests with bodies are tracked: a GET
 * costs nothing here.
 */
export class SlowBodyWatch {
  private readonly watched = new Set<Watched>()

  constructor (private readonly answerAfterMs = ANSWER_AFTER_MS, private readonly rearmBytes = UWS_BODY_REARM_BYTES) {}

  get size (): number { return this.watched.size }

  start (target: SlowBodyTarget, now: number): Watched {
    const w = { target, since: now, bytes: 0 }
    this.watched.add(w)
    return w
  }

  /** A body chunk of `n` bytes arrived; the last one ends the watch. */
  feed (w: Watched, n: number, isLast: boolean, now: number): void {
    if (isLast) {
      this.watched.delete(w)
      return
    }
    w.bytes += n
    if (w.bytes >= this.rearmBytes) {
      w.bytes = 0
      w.since = now
    }
  }

  /** The exchange ended otherwise (answered early, aborted). */
  stop (w: Watched): void { this.watched.delete(w) }

  /** Answer 408 to every body that uWS is about to cut off. */
  sweep (now: number): void {
    for (const w of this.watched) {
      const t = w.target
      if (t.over) {
        this.watched.delete(w)
      } else if (now - w.since >= this.answerAfterMs) {
        this.watched.delete(w)
        t.bodyTooSlow()
      }
    }
  }

  /** Forget everything (the thread is closing; uWS closes the sockets). */
  close (): void { this.watched.clear() }
}
