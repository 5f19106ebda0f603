import t from 'tap'
import { RingWindow, ringWindow } from '../../src/autoscaler/window'

t.test('sizes from windowMs: whole seconds, rounded up, at least one', async (t) => {
  t.equal(ringWindow(60_000).seconds, 60)
  t.equal(ringWindow(1500).seconds, 2)
  t.equal(ringWindow(1).seconds, 1)
  t.equal(ringWindow(0).seconds, 1)
  t.throws(() => new RingWindow(0), RangeError)
  t.throws(() => new RingWindow(2.5), RangeError)
})

t.test('sums exactly as seconds roll off', async (t) => {
  const w = new RingWindow(3)
  // [push, expected total over the last 3 seconds]
  const table: Array<[number, number]> = [
    [5, 5], // filling: 5
    [7, 12], // 5 7
    [0, 12], // 5 7 0
    [1, 8], // 7 0 1 (5 rolled off)
    [10, 11], // 0 1 10
    [0, 11], // 1 10 0
    [0, 10], // 10 0 0
    [0, 0], // 0 0 0
    [3, 3]
  ]
  for (const [push, total] of table) {
    w.push(push)
    t.equal(w.total(), total, `after push(${push})`)
  }
})

t.test('a one-second window is the last push', async (t) => {
  const w = ringWindow(1000)
  for (const n of [4, 9, 0, 2]) {
    w.push(n)
    t.equal(w.total(), n)
  }
})

t.test('the running total matches a full re-sum over many random pushes', async (t) => {
  const w = new RingWindow(7)
  const history: number[] = []
  let seed = 42
  for (let i = 0; i < 10_000; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648
    const n = seed % 100_000
    w.push(n)
    history.push(n)
  }
  t.equal(w.total(), history.slice(-7).reduce((a, b) => a + b, 0))
})

t.test('reset empties the window', async (t) => {
  const w = new RingWindow(2)
  w.push(3)
  w.push(4)
  w.reset()
  t.equal(w.total(), 0)
  w.push(1)
  t.equal(w.total(), 1)
})

t.test('counts() lists the window oldest first, and seed() carries it into another window (takeover)', async (t) => {
  const w = new RingWindow(3)
  t.same(w.counts(), [0, 0, 0], 'empty')
  for (const n of [1, 2, 3, 4]) w.push(n)
  t.same(w.counts(), [2, 3, 4], 'the oldest rolled off; oldest first')
  const same = new RingWindow(3)
  same.seed(w.counts())
  t.same(same.counts(), [2, 3, 4], 'same length: the same counts')
  t.equal(same.total(), 9)
  same.push(10)
  t.same(same.counts(), [3, 4, 10], 'and it rolls on from there')
  const shorter = new RingWindow(2)
  shorter.seed(w.counts())
  t.same(shorter.counts(), [3, 4], 'a shorter window keeps the newest seconds')
  const longer = new RingWindow(5)
  longer.seed(w.counts())
  t.same(longer.counts(), [0, 0, 2, 3, 4], 'a longer one is zero before them')
  t.equal(longer.total(), 9)
  const bad = new RingWindow(3)
  bad.seed([1, -5, Number.NaN])
  t.same(bad.counts(), [1, 0, 0], 'negative or non-finite counts (a bad answer) count zero')
})
