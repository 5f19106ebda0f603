/**
 * The states one proxied request passes through, after HAProxy's stream states (SC_ST_INI …
 * SC_ST_CLO): one field with named values instead of a cluster of booleans, and a table of
 * the moves that are legal. src/worker/exchange.ts makes every move through `checkMove`.
 *
 * ```
 *  NEW ──► GATHERING ──┐            (a small body of known size is read whole first)
 *   │                  ▼
 *   ├────────────► HELD ──► SENT     (no healthy backend: wait, bounded by --queue-timeout)
 *   └────────────────────► SENT ──► HEAD ──► BODY ⇄ BLOCKED ──► FLUSHING ──► DONE
 *                          ↺ retry │ ▲                (client socket full)  (upstream done,
 *                                  ▼ │                                      client not yet)
 *                            DISCARDING              (a 5xx head from a replica on trial,
 *                                                     dropped for a retry on a settled one)
 *  every state but DONE ──► ABORTED (the client went away)
 *  NEW, GATHERING, HELD, SENT, DISCARDING, HEAD ──► DONE (a gateway answer: 502, 503, 504, 413, 408)
 *  BODY, BLOCKED, FLUSHING ──► DONE (the whole answer written, or the connection closed on an
 *                                    upstream failure mid-answer: never a short body that looks whole)
 * ```
 */

/** Created; about to pick a backend (bodiless or streamed request). */
export const S_NEW = 0
/** A replayable body (known size, up to --replay-body-limit) is still arriving. */
export const S_GATHERING = 1
/** Waiting in the hold queue for a healthy backend. */
export const S_HELD = 2
/** On an upstream connection, no answer yet; a failure here may be retried elsewhere. */
export const S_SENT = 3
/**
 * A replica on trial (a rollout's new version) answered 500/502/503/504 to an idempotent
 * request: its head was never written, its connection is being closed (the body is not read),
 * and the request goes next to a replica of the settled version, once (src/worker/retry.ts
 * mayRetryOnSettled).
 */
export const S_DISCARDING = 4
/** The answer's head arrived and waits (one event-loop turn at most) to share a send with the body. */
export const S_HEAD = 5
/** The head is written; body chunks go to the client as they come. */
export const S_BODY = 6
/** The client's socket is full: the upstream is paused until uWS says it is writable. */
export const S_BLOCKED = 7
/** The upstream sent its last byte; the client has yet to take the rest (issue #17). */
export const S_FLUSHING = 8
/** Answered: whole, or closed mid-answer. Terminal. */
export const S_DONE = 9
/** The client went away. Terminal. */
export const S_ABORTED = 10

export type ExchangeState = typeof S_NEW | typeof S_GATHERING | typeof S_HELD | typeof S_SENT | typeof S_DISCARDING |
  typeof S_HEAD | typeof S_BODY | typeof S_BLOCKED | typeof S_FLUSHING | typeof S_DONE | typeof S_ABORTED

export const STATE_NAMES: readonly string[] = ['NEW', 'GATHERING', 'HELD', 'SENT', 'DISCARDING', 'HEAD', 'BODY', 'BLOCKED', 'FLUSHING', 'DONE', 'ABORTED']

const bit = (s: ExchangeState): number => 1 << s
const ANSWER = bit(S_DONE) | bit(S_ABORTED)

/** For each state, the bit set of the states it may move to. */
const LEGAL: readonly number[] = [
  /* NEW       */ bit(S_HELD) | bit(S_SENT) | ANSWER,
  /* GATHERING */ bit(S_HELD) | bit(S_SENT) | ANSWER,
  /* HELD      */ bit(S_SENT) | ANSWER,
  /* SENT      */ bit(S_SENT) | bit(S_DISCARDING) | bit(S_HEAD) | ANSWER, // SENT → SENT: a retry on another backend
  /* DISCARDING */ bit(S_SENT) | ANSWER, // → SENT: the retry on a settled replica; → DONE: none was left after all
  /* HEAD      */ bit(S_BODY) | ANSWER,
  /* BODY      */ bit(S_BLOCKED) | ANSWER,
  /* BLOCKED   */ bit(S_BODY) | bit(S_FLUSHING) | ANSWER,
  /* FLUSHING  */ ANSWER,
  /* DONE      */ 0,
  /* ABORTED   */ 0
]

/** Whether `from → to` is a legal move. */
export function isLegalMove (from: ExchangeState, to: ExchangeState): boolean {
  return (LEGAL[from] & bit(to)) !== 0
}

/** Over: nothing may be written to the client any more. */
export function isTerminal (s: ExchangeState): boolean { return s >= S_DONE }

/** Part of the upstream's answer is on the client's wire: a failure can only close the connection. */
export function answerStarted (s: ExchangeState): boolean { return s >= S_BODY && s <= S_FLUSHING }

/** Thrown on an illegal move: a bug in the exchange, never a condition of the traffic. */
export class IllegalMoveError extends Error {
  constructor (readonly from: ExchangeState, readonly to: ExchangeState) {
    super(`exchange: illegal move ${STATE_NAMES[from]} -> ${STATE_NAMES[to]}`)
    this.name = 'IllegalMoveError'
  }
}

/** Returns `to` when `from → to` is legal; throws IllegalMoveError otherwise. */
export function checkMove (from: ExchangeState, to: ExchangeState): ExchangeState {
  if ((LEGAL[from] & bit(to)) === 0) throw new IllegalMoveError(from, to)
  return to
}
