import t from 'tap'
import { ErrorReason, MAX_BACKENDS } from '../../src/table/layout'
import { mayRetry, mayRetryOnSettled } from '../../src/worker/retry'

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
    ['a reset GET, third attempt (a lost node\'s third replica)', 2, RESET, 'GET', true, true],
    ['a reset GET when every backend was tried', MAX_BACKENDS, RESET, 'GET', true, false],
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

t.test('mayRetryOnSettled: a rollout\'s new version failing, as a table (docs/deploy.md)', async (t) => {
  const rows: Array<[string, number, string, boolean, boolean, boolean, boolean]> = [
    // what, status, method, body replayable, on trial, retried on a settled one before, expected
    ['a 500 to a GET from a replica on trial', 500, 'GET', true, true, false, true],
    ['a 502 to a HEAD', 502, 'HEAD', true, true, false, true],
    ['a 503 to a PUT (idempotent)', 503, 'PUT', true, true, false, true],
    ['a 504 to a DELETE (idempotent)', 504, 'DELETE', true, true, false, true],
    ['a 500 to an OPTIONS', 500, 'OPTIONS', true, true, false, true],
    ['a 500 to a POST (not idempotent): relayed', 500, 'POST', true, true, false, false],
    ['a 500 to a PATCH (not idempotent): relayed', 500, 'PATCH', true, true, false, false],
    ['a 500 from a settled replica: the application\'s answer', 500, 'GET', true, false, false, false],
    ['a second 500 on trial: the retry was the one', 500, 'GET', true, true, true, false],
    ['a GET whose streamed body was read already', 500, 'GET', false, true, false, false],
    ['a 501 (the method is not supported)', 501, 'GET', true, true, false, false],
    ['a 505', 505, 'GET', true, true, false, false],
    ['a 507', 507, 'GET', true, true, false, false],
    ['a 404 from a replica on trial', 404, 'GET', true, true, false, false],
    ['a 200 from a replica on trial', 200, 'GET', true, true, false, false]
  ]
  for (const [what, status, method, replayable, onTrial, retried, want] of rows) {
    t.equal(mayRetryOnSettled(status, method, replayable, onTrial, retried), want, what)
  }
})
