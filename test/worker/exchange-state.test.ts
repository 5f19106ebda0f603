import t from 'tap'
import {
  S_NEW, S_GATHERING, S_HELD, S_SENT, S_DISCARDING, S_HEAD, S_BODY, S_BLOCKED, S_FLUSHING, S_DONE, S_ABORTED,
  STATE_NAMES, IllegalMoveError, answerStarted, checkMove, isLegalMove, isTerminal, type ExchangeState
} from '../../src/worker/exchange-state'

const ALL: ExchangeState[] = [S_NEW, S_GATHERING, S_HELD, S_SENT, S_DISCARDING, S_HEAD, S_BODY, S_BLOCKED, S_FLUSHING, S_DONE, S_ABORTED]
const name = (s: ExchangeState): string => STATE_NAMES[s]

/**
 * The paths a request really takes (each one a scenario of the proxy's tests), walked move by
 * move through checkMove; the last state of each is terminal.
 */
const PATHS: Array<[string, ExchangeState[]]> = [
  ['a GET answered', [S_NEW, S_SENT, S_HEAD, S_BODY, S_DONE]],
  ['a large answer to a slow reader', [S_NEW, S_SENT, S_HEAD, S_BODY, S_BLOCKED, S_BODY, S_BLOCKED, S_FLUSHING, S_DONE]],
  ['a slow reader: blocked when the upstream ends a chunked body', [S_NEW, S_SENT, S_HEAD, S_BODY, S_BLOCKED, S_DONE]],
  ['a small POST gathered, held, then sent', [S_GATHERING, S_HELD, S_SENT, S_HEAD, S_BODY, S_DONE]],
  ['a connect failure retried on the next backend', [S_NEW, S_SENT, S_SENT, S_HEAD, S_BODY, S_DONE]],
  ['held until --queue-timeout: 503', [S_NEW, S_HELD, S_DONE]],
  ['no backend after a retry: the failure answered', [S_NEW, S_SENT, S_DONE]],
  ['an upstream failing after its head arrived: 502', [S_NEW, S_SENT, S_HEAD, S_DONE]],
  ['an upstream failing mid-body: the connection cut', [S_NEW, S_SENT, S_HEAD, S_BODY, S_DONE]],
  ['a body too large while streaming up', [S_NEW, S_SENT, S_DONE]],
  ['a client gone while held', [S_NEW, S_HELD, S_ABORTED]],
  ['a client gone while its answer waits for room', [S_NEW, S_SENT, S_HEAD, S_BODY, S_BLOCKED, S_FLUSHING, S_ABORTED]],
  ['a client gone while its body is gathered', [S_GATHERING, S_ABORTED]],
  ['a 500 from a replica on trial, retried on a settled one', [S_NEW, S_SENT, S_DISCARDING, S_SENT, S_HEAD, S_BODY, S_DONE]],
  ['a 500 from a replica on trial, the settled one gone meanwhile: 502', [S_NEW, S_SENT, S_DISCARDING, S_DONE]],
  ['a client gone while its discarded answer is being closed', [S_NEW, S_SENT, S_DISCARDING, S_ABORTED]]
]

t.test('every path a request takes is a chain of legal moves ending in a terminal state', async (t) => {
  for (const [what, path] of PATHS) {
    let s = path[0]
    for (let i = 1; i < path.length; i++) s = checkMove(s, path[i])
    t.ok(isTerminal(s), `${what}: ends in ${name(s)}`)
  }
})

t.test('the moves the table forbids throw, naming both states', async (t) => {
  const illegal: Array<[ExchangeState, ExchangeState]> = [
    [S_DONE, S_BODY], // nothing after the answer
    [S_ABORTED, S_DONE], // a client gone is not answered
    [S_DONE, S_ABORTED],
    [S_BODY, S_SENT], // no retry once the answer is on the wire
    [S_BLOCKED, S_SENT],
    [S_HEAD, S_SENT], // nor after the upstream's head arrived
    [S_FLUSHING, S_BODY], // the upstream is done: nothing more to read
    [S_NEW, S_BODY], // no answer before a request was sent
    [S_HELD, S_HEAD],
    [S_SENT, S_BODY], // the head comes first
    [S_BODY, S_FLUSHING], // only a blocked body waits for the client
    [S_HEAD, S_DISCARDING], // a head being written is the answer: too late to discard it
    [S_BODY, S_DISCARDING],
    [S_DISCARDING, S_HEAD], // the discarded answer's head is never relayed
    [S_DISCARDING, S_DISCARDING], // one discard per retry, and the retry goes out first
    [S_NEW, S_DISCARDING] // nothing to discard before a request was sent
  ]
  for (const [from, to] of illegal) {
    t.notOk(isLegalMove(from, to), `${name(from)} -> ${name(to)} is not in the table`)
    t.throws(() => checkMove(from, to), new IllegalMoveError(from, to), `${name(from)} -> ${name(to)} throws`)
  }
})

t.test('the table: terminal states are dead ends; every other state can end or be abandoned', async (t) => {
  for (const s of ALL) {
    if (isTerminal(s)) {
      t.same(ALL.filter((to) => isLegalMove(s, to)), [], `${name(s)} leads nowhere`)
    } else {
      t.ok(isLegalMove(s, S_DONE), `${name(s)} can be answered or cut`)
      t.ok(isLegalMove(s, S_ABORTED), `${name(s)} can lose its client`)
    }
  }
  t.same(ALL.filter(answerStarted).map(name), ['BODY', 'BLOCKED', 'FLUSHING'], 'the answer is on the wire in exactly these')
  // Every state is reachable from a start state, so no row of the table is dead code.
  const seen = new Set<ExchangeState>([S_NEW, S_GATHERING])
  for (let grew = true; grew;) {
    grew = false
    for (const from of [...seen]) {
      for (const to of ALL) if (isLegalMove(from, to) && !seen.has(to)) { seen.add(to); grew = true }
    }
  }
  t.equal(seen.size, ALL.length, 'every state is reachable')
})
