import t from 'tap'
import { W_IDLE_HEAP_KIB, W_IDLE_RELEASES, workerBase } from '../../src/table/layout'
import { IdlePhase, idleStart, idleStep, type IdleState } from '../../src/idle-policy'
import { checkIdleRhythm } from '../helpers/idle-rhythm'

/**
 * Issue #23 point 7: memory a thread's traffic grew must come back when the thread goes idle.
 * The policy walks through its states by table; then a real gateway thread must run its
 * release once after a burst of requests, not again while it stays idle, and again after new
 * traffic. No memory figure here (bench/soak.ts measures what the release gives back).
 */

const Q = 1000

t.test('idleStep: every transition', async (t) => {
  t.equal(idleStart(5).phase, IdlePhase.BUSY, 'a thread starts BUSY: its start allocated')
  const settled: IdleState = { phase: IdlePhase.SETTLED, requests: 5, quietSince: 0 }
  const cases: Array<{ name: string, from: IdleState, requests: number, inFlight: number, now: number, phase: number, release: boolean }> = [
    { name: 'settled, nothing moved: stays settled', from: settled, requests: 5, inFlight: 0, now: 10 * Q, phase: IdlePhase.SETTLED, release: false },
    { name: 'settled, requests arrived: busy', from: settled, requests: 6, inFlight: 0, now: 0, phase: IdlePhase.BUSY, release: false },
    { name: 'settled, one in flight (same count): busy', from: settled, requests: 5, inFlight: 1, now: 0, phase: IdlePhase.BUSY, release: false },
    { name: 'busy, nothing moved: quiet', from: { phase: IdlePhase.BUSY, requests: 5, quietSince: 0 }, requests: 5, inFlight: 0, now: 7, phase: IdlePhase.QUIET, release: false },
    { name: 'busy, more requests: busy', from: { phase: IdlePhase.BUSY, requests: 5, quietSince: 0 }, requests: 9, inFlight: 0, now: 7, phase: IdlePhase.BUSY, release: false },
    { name: 'busy, a long answer still in flight: busy', from: { phase: IdlePhase.BUSY, requests: 5, quietSince: 0 }, requests: 5, inFlight: 1, now: 7, phase: IdlePhase.BUSY, release: false },
    { name: 'quiet, before the quiet time: quiet', from: { phase: IdlePhase.QUIET, requests: 5, quietSince: 100 }, requests: 5, inFlight: 0, now: 100 + Q - 1, phase: IdlePhase.QUIET, release: false },
    { name: 'quiet, at the quiet time: release, settled', from: { phase: IdlePhase.QUIET, requests: 5, quietSince: 100 }, requests: 5, inFlight: 0, now: 100 + Q, phase: IdlePhase.SETTLED, release: true },
    { name: 'quiet, a request arrived: busy', from: { phase: IdlePhase.QUIET, requests: 5, quietSince: 100 }, requests: 6, inFlight: 0, now: 100 + Q, phase: IdlePhase.BUSY, release: false },
    { name: 'counter wrapped (2^31 - 1 to -2^31): it moved', from: { phase: IdlePhase.QUIET, requests: 0x7fffffff, quietSince: 0 }, requests: -0x80000000, inFlight: 0, now: Q, phase: IdlePhase.BUSY, release: false }
  ]
  for (const c of cases) {
    const d = idleStep(c.from, c.requests, c.inFlight, c.now, Q)
    t.equal(d.state.phase, c.phase, `${c.name}: phase`)
    t.equal(d.release, c.release, `${c.name}: release`)
    t.equal(d.state.requests, c.requests, `${c.name}: counter remembered`)
  }
  // A whole spell, tick by tick: exactly one release, and none while it stays idle afterwards.
  let s = idleStart(0)
  let releases = 0
  const ticks: Array<[number, number]> = [[0, 0], [0, 500], [0, 1500], [3, 2000], [8, 2500], [8, 3000], [8, 3500], [8, 4000], [8, 4500], [8, 5000], [8, 8000], [8, 12000]]
  for (const [requests, now] of ticks) {
    const d = idleStep(s, requests, 0, now, Q)
    s = d.state
    if (d.release) releases++
  }
  t.equal(releases, 2, 'one release for the start, one for the traffic: one per quiet spell')
})

t.test('a real thread releases once after its start, once after its traffic, and again only after new traffic', async (t) => {
  const i32 = (gw: { table: { sab: SharedArrayBuffer } }): Int32Array => new Int32Array(gw.table.sab)
  await checkIdleRhythm(t, 'thread', (gw) => {
    const words = i32(gw)
    return () => Atomics.load(words, workerBase(0) + W_IDLE_RELEASES)
  }, (gw) => {
    t.ok(Atomics.load(i32(gw), workerBase(0) + W_IDLE_HEAP_KIB) > 0, 'the thread reported its heap after the release')
  })
})
