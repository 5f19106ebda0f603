import t from 'tap'
import { ErrorReason, MAX_BACKENDS } from '../../src/table/layout'
import { RESET_ATTEMPTS, mayRetry } from '../../src/worker/retry'

const { CONNECT, RESET, TIMEOUT, PROTOCOL, OTHER } = ErrorReason

t.test('mayRetry: the retry rules of docs/http.md as a table', async (t) => {
  const rows: Array<[string, number, number, string, boolean, boolean]> = [
    // what, attempt (0 = first), reason, method, body replayable, expected
    ['a refused connect, any method', 0, CONNECT, 'POST', true, true],
    ['a refused connect on the 10th backend', 9, CONNECT, 'PATCH', true, true],
    ['a refused connect when every backend was tried', MAX_BACKENDS, CONNECT, 'GET', true, false],
    ['a refused connect with a streamed body already read', 0, CONNECT, 'POST', false, false],
    ['a reset GET, first attempt', 0, RESET, 'GET', true, true],
    ['a reset GET, second attempt', 1, RESET, 'GET', true, true],
    [`a reset GET after ${RESET_ATTEMPTS} attempts`, RESET_ATTEMPTS - 1, RESET, 'GET', true, false],
    ['a reset PUT (idempotent)', 0, RESET, 'PUT', true, true],
    ['a reset DELETE (idempotent)', 0, RESET, 'DELETE', true, true],
    ['a reset POST (not idempotent)', 0, RESET, 'POST', true, false],
    ['a reset PATCH (not idempotent)', 0, RESET, 'PATCH', true, false],
    ['a reset GET whose body cannot be sent again', 0, RESET, 'GET', false, false],
    ['a timeout is never retried', 0, TIMEOUT, 'GET', true, false],
    ['a malformed answer is never retried', 0, PROTOCOL, 'GET', true, false],
    ['any other failure is never retried', 0, OTHER, 'GET', true, false]
  ]
  for (const [what, attempt, reason, method, replayable, want] of rows) {
    t.equal(mayRetry(attempt, reason, method, replayable), want, what)
  }
})
