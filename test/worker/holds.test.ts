import t from 'tap'
import { HoldQueue, HOLD_AGAIN, HOLD_GAVE_UP, HOLD_SENT, type Holdable } from '../../src/worker/holds'
import { RetryBudget } from '../../src/worker/budget'

function holdable (): Holdable & { got: string[], over: boolean } {
  const h = { got: [] as string[], over: false, holdReady () { h.got.push('ready'); return HOLD_SENT }, holdExpired () { h.got.push('expired') } }
  return h
}

t.test('HoldQueue: released in order when a backend appears; overdue ones expire; bounded', async (t) => {
  let now = 0
  let backend = false
  const log: string[] = []
  const q = new HoldQueue(2, 100, () => backend, { held: () => log.push('held'), released: (ms, expired) => log.push(`${expired ? 'expired' : 'released'} ${ms}`) }, () => now)
  t.teardown(() => q.close())
  const a = holdable()
  const b = holdable()
  const c = holdable()
  t.ok(q.tryHold(a))
  now = 30
  t.ok(q.tryHold(b))
  t.notOk(q.tryHold(c), 'full at the limit')
  now = 90
  q.poll()
  t.same([a.got, b.got], [[], []], 'still waiting before the deadline')
  now = 110
  q.poll()
  t.same([a.got, b.got], [['expired'], []], 'a waited 100 ms in vain')
  backend = true
  now = 120
  q.poll()
  t.same(b.got, ['ready'], 'b released when a backend is healthy')
  t.equal(q.size, 0)
  t.same(log, ['held', 'held', 'expired 110', 'released 90'])
})

t.test('HoldQueue: an aborted client is dropped silently; timeout 0 holds nothing; close expires all', async (t) => {
  let backend = false
  const q = new HoldQueue(10, 1000, () => backend, { held: () => {}, released: () => {} }, () => 0)
  const a = holdable()
  const b = holdable()
  q.tryHold(a)
  q.tryHold(b)
  a.over = true
  backend = true
  q.poll()
  t.same([a.got, b.got], [[], ['ready']])
  const off = new HoldQueue(10, 0, () => false, { held: () => {}, released: () => {} })
  t.notOk(off.tryHold(holdable()), '--queue-timeout 0: no holding')
  const c = holdable()
  backend = false
  q.tryHold(c)
  q.close()
  t.same(c.got, ['expired'])
})

t.test('HoldQueue: a request held again keeps its first deadline and is counted once', async (t) => {
  let now = 0
  const log: string[] = []
  const q = new HoldQueue(10, 100, () => true, { held: () => log.push('held'), released: (ms, expired) => log.push(`${expired ? 'expired' : 'released'} ${ms}`) }, () => now)
  t.teardown(() => q.close())
  const again: Holdable & { tries: number } = {
    over: false,
    tries: 0,
    holdReady (since: number) {
      again.tries++
      if (q.tryHold(again, since)) return HOLD_AGAIN
      q.gaveUp(since)
      log.push('answered 503')
      return HOLD_GAVE_UP
    },
    holdExpired () {}
  }
  t.ok(q.tryHold(again))
  now = 60
  q.poll()
  now = 120
  q.poll()
  t.equal(again.tries, 2, 'released twice, held again once (the second time its 100 ms were over)')
  t.same(log, ['held', 'expired 120', 'answered 503'], 'counted as held once, then as given up (not as served), before its answer left')
  t.notOk(q.tryHold(holdable(), 0), 'a request whose first hold began at 0 cannot be held at 120')
})

t.test('RetryBudget: a floor per second, then a share of the traffic', async (t) => {
  const b = new RetryBudget(0.2, 3, 100)
  let n = 0
  while (b.tryWithdraw()) n++
  t.equal(n, 3, 'the floor')
  for (let i = 0; i < 50; i++) b.deposit()
  n = 0
  while (b.tryWithdraw()) n++
  t.equal(n, 10, '50 requests earn 10 retries')
  b.refill()
  n = 0
  while (b.tryWithdraw()) n++
  t.equal(n, 3, 'refilled to the floor')
})
