/**
 * The connection limit on a count the threads keep themselves (uWS's app.filter): the sum over
 * the threads' words, and a ConnectionLimit that decides from it alone, never from the kernel
 * bounds (src/gateway/thread-connections.ts, src/gateway/connection-limit.ts).
 */
import t from 'tap'
import { ConnectionLimit, resumeAt } from '../../src/gateway/connection-limit'
import { ThreadConnections } from '../../src/gateway/thread-connections'
import { TOTAL_WORDS, W_CLIENT_CONNECTIONS, workerBase } from '../../src/table/layout'
import { createLogger } from '../../src/log'

function table (): Int32Array {
  return new Int32Array(new SharedArrayBuffer(TOTAL_WORDS * 4))
}

t.test('the count is the sum of the threads\' words; a word below 0 counts as 0', async (t) => {
  const i32 = table()
  const c = new ThreadConnections(i32, 3)
  t.equal(c.count(), 0)
  Atomics.store(i32, workerBase(0) + W_CLIENT_CONNECTIONS, 5)
  Atomics.store(i32, workerBase(2) + W_CLIENT_CONNECTIONS, 7)
  Atomics.store(i32, workerBase(3) + W_CLIENT_CONNECTIONS, 100) // not one of the 3 threads
  t.equal(c.count(), 12)
  Atomics.store(i32, workerBase(1) + W_CLIENT_CONNECTIONS, -2) // last closes of a replaced thread after its successor's reset
  t.equal(c.count(), 12)
  t.equal(c.recentCount(5000), 12, 'always fresh')
  t.equal(c.exact, true)
})

t.test('ConnectionLimit on an exact count: pauses at the limit, resumes at 90 %, reads nothing else', async (t) => {
  const i32 = table()
  const at = workerBase(0) + W_CLIENT_CONNECTIONS
  const source = new ThreadConnections(i32, 1)
  // Any use of the kernel bounds would be a mistake with an exact count.
  source.observe = () => { throw new Error('observe() read') }
  source.ownFds = () => { throw new Error('ownFds() read') }
  const gate: boolean[] = []
  const lines: string[] = []
  const log = createLogger('info', (line) => { lines.push(line) })
  const limit = new ConnectionLimit({ limit: 20, connections: source, gate: { setAccepting: (a) => { gate.push(a) } }, log })
  const steps: Array<[number, boolean[]]> = [
    [19, []],
    [20, [false]],
    [25, [false]],
    [resumeAt(20) + 1, [false]],
    [resumeAt(20), [false, true]],
    [19, [false, true]],
    [20, [false, true, false]]
  ]
  for (const [count, after] of steps) {
    Atomics.store(i32, at, count)
    limit.tick()
    t.same(gate, after, `at ${count}`)
  }
  t.equal(limit.pauses, 2)
  t.equal(limit.exactCounts, 0, 'no table read counted')
  t.notOk(lines.some((l) => l.includes('cannot count')), 'no failed count')
  limit.close()
})
