import t from 'tap'
import { decide, desiredReplicas, initialScaleState, type Observation, type ScaleParams, type ScaleState } from '../../src/autoscaler/policy'

t.test('desiredReplicas: one plus one per baseScaleCount, clamped', async (t) => {
  // [count, base, min, max, expected]
  const table: Array<[number, number, number, number, number]> = [
    [0, 20, 1, 10, 1],
    [19, 20, 1, 10, 1],
    [20, 20, 1, 10, 2],
    [39, 20, 1, 10, 2],
    [40, 20, 1, 10, 3],
    [59, 20, 1, 10, 3],
    [60, 20, 1, 10, 4],
    [1000, 20, 1, 10, 10], // clamped at max
    [0, 20, 3, 10, 3], // clamped at min
    [45, 20, 3, 10, 3],
    [60, 20, 3, 10, 4],
    [5, 1, 1, 100, 6],
    [0, 20, 2, 2, 2],
    [-5, 20, 1, 10, 1] // a negative count (clock skew upstream) is treated as none
  ]
  for (const [count, base, min, max, want] of table) {
    t.equal(desiredReplicas(count, base, min, max), want, `count=${count} base=${base} min=${min} max=${max}`)
  }
})

const params: ScaleParams = { baseScaleCount: 20, minContainers: 1, maxContainers: 10, windowMs: 10_000 }
const obs = (now: number, requests: number, running: number, starting = 0): Observation => ({ now, requests, running, starting })

/** Run ticks from the initial state, returning each decision's action summary. */
function run (ticks: Observation[], p: ScaleParams = params): string[] {
  let state: ScaleState = initialScaleState
  const out: string[] = []
  for (const o of ticks) {
    const d = decide(state, o, p)
    state = d.state
    out.push(d.action === 'up' ? `up ${d.add}` : d.action === 'down' ? `down ${d.remove}` : 'hold')
  }
  return out
}

t.test('decide: scales up at once by the shortfall', async (t) => {
  t.same(run([obs(0, 45, 1)]), ['up 2'])
  t.same(run([obs(0, 1000, 1)]), ['up 9'], 'never past max')
  t.same(run([obs(0, 0, 0)]), ['up 1'], 'back to min after every replica died')
})

t.test('decide: starting replicas count as capacity on its way', async (t) => {
  t.same(run([obs(0, 45, 1, 2)]), ['hold'], '1 running + 2 starting = 3 desired')
  t.same(run([obs(0, 65, 1, 2)]), ['up 1'])
})

t.test('decide: scale down only after desired stayed below for a whole window', async (t) => {
  t.same(run([
    obs(0, 0, 3), // below since 0
    obs(5_000, 0, 3),
    obs(9_999, 0, 3), // one ms short of the window
    obs(10_000, 0, 3) // a whole window
  ]), ['hold', 'hold', 'hold', 'down 2'])
})

t.test('decide: the hold restarts whenever desired reaches current', async (t) => {
  t.same(run([
    obs(0, 0, 3),
    obs(8_000, 45, 3), // desired 3 = current: reset
    obs(9_000, 0, 3), // below again since 9 000
    obs(10_000, 0, 3),
    obs(18_999, 0, 3),
    obs(19_000, 0, 3)
  ]), ['hold', 'hold', 'hold', 'hold', 'hold', 'down 2'])
})

t.test('decide: never flips direction within a window', async (t) => {
  t.same(run([
    obs(0, 45, 1), // up 2
    obs(1_000, 0, 3), // traffic gone at once: hold, not down
    obs(10_999, 0, 3),
    obs(11_000, 0, 3)
  ]), ['up 2', 'hold', 'hold', 'down 2'])
  t.same(run([
    obs(0, 0, 3),
    obs(10_000, 0, 3), // down 2
    obs(10_500, 0, 1), // at min: hold
    obs(11_000, 25, 1) // demand returns: up at once
  ]), ['hold', 'down 2', 'hold', 'up 1'])
})

t.test('decide: a scale-down goes only to the highest desired seen during the hold', async (t) => {
  t.same(run([
    obs(0, 0, 5), // desired 1
    obs(4_000, 45, 5), // desired 3, still below 5
    obs(10_000, 0, 5) // remove down to 3, not to 1
  ]), ['hold', 'hold', 'down 2'])
})

t.test('decide: after a scale-down the next one waits a whole window again', async (t) => {
  t.same(run([
    obs(0, 45, 5),
    obs(10_000, 0, 5), // down to 3
    obs(10_001, 0, 3), // below again, new hold
    obs(19_999, 0, 3),
    obs(20_001, 0, 3)
  ]), ['hold', 'down 2', 'hold', 'hold', 'down 2'])
})

t.test('decide: no scale-down while replicas are starting', async (t) => {
  t.same(run([
    obs(0, 0, 3, 1),
    obs(10_000, 0, 3, 1), // window passed, but capacity is in flux
    obs(11_000, 0, 4, 0) // started: now remove
  ]), ['hold', 'hold', 'down 3'])
})

t.test('decide: a hold whose peak is no longer below current restarts', async (t) => {
  t.same(run([
    obs(0, 65, 5), // desired 4 < 5, peak 4
    obs(5_000, 0, 4), // a replica died: current 4, peak 4 no longer below: restart at 5 000
    obs(10_000, 0, 4),
    obs(15_000, 0, 4)
  ]), ['hold', 'hold', 'hold', 'down 3'])
})

t.test('decide: a zero window scales down on the first tick below', async (t) => {
  t.same(run([obs(0, 0, 3)], { ...params, windowMs: 0 }), ['down 2'])
})

t.test('decide: reports desired and current and never mutates the state it was given', async (t) => {
  const state: ScaleState = Object.freeze({ belowSince: 100, peak: 1 })
  const d = decide(state, obs(200, 0, 3, 1), params)
  t.equal(d.desired, 1)
  t.equal(d.current, 4)
  t.same(state, { belowSince: 100, peak: 1 })
})
