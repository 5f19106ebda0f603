import type { HttpResponse } from 'uWebSockets.js'
import type { GatewayAnswer } from './respond'
import type { AccessRecord } from './access-line'

/** A request refused before it became an Exchange (400, 413, 431): what its answer and its log line need. */
export class Refused implements AccessRecord {
  readonly backendName = ''
  readonly retries = 0
  sentBytes = 0
  /** The client went away before the answer (a refusal answered on the next turn). */
  aborted = false

  constructor (
    readonly res: HttpResponse,
    readonly answer: GatewayAnswer,
    readonly method: string,
    readonly methodIdx: number,
    readonly path: string,
    readonly t0: number,
    readonly client: string,
    readonly requestId: string
  ) {}
}

/**
 * Requests refused with "close the connection" (ambiguous framing, a head or body too large)
 * are answered after the event loop turn, not inside the request handler.
 *
 * Why: inside the handler uWS 20.30 keeps the socket corked, and `end(body, true)` only marks
 * it for closing; uWS then goes on parsing what the client pipelined behind the refused request
 * and hands it to us as a fresh request (seen: a request hidden after `Content-Length: 0` plus a
 * second Content-Length reached the backend). uWS gives JavaScript no handle on the connection to
 * refuse that follower by. Left unanswered, the refused request is pending, and uWS aborts a
 * connection that sends more while one is pending: nothing behind it is parsed. The answer then
 * goes out from a setImmediate, outside any cork, where `end(body, true)` shuts the socket down
 * and closes it at once. A client that sent nothing more gets its 400/413/431 and the close; one
 * that pipelined more gets the close alone.
 */
export class Refusals {
  private readonly queue: Refused[] = []
  private scheduled = false
  private readonly flushBound = (): void => { this.flush() }

  constructor (
    /** Writes the answer (inside res.cork), counts and logs it. */
    private readonly answer: (r: Refused) => void,
    /** Counts and logs a refusal whose connection was aborted before it could be answered. */
    private readonly countAborted: (r: Refused) => void
  ) {}

  get size (): number { return this.queue.length }

  refuse (r: Refused): void {
    r.res.onAborted(() => { r.aborted = true })
    this.queue.push(r)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flushBound)
    }
  }

  /** Answer every queued refusal (also called when the worker closes). */
  flush (): void {
    this.scheduled = false
    for (const r of this.queue.splice(0)) {
      if (r.aborted) {
        this.countAborted(r)
        continue
      }
      r.res.cork(() => { this.answer(r) })
    }
  }
}
