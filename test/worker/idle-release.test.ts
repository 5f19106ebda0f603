import t from 'tap'
import { W_IDLE_HEAP_KIB, W_IDLE_RELEASES, workerBase } from '../../src/table/layout'
import { IdlePhase, idleStart, idleStep, QUIET_MS, type IdleState } from '../../src/idle-policy'
import { sleep, startTestGateway, waitFor } from '../helpers/gateway'
import { rawBackend } from '../helpers/raw-backend'

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
  const be = await rawBackend(() => ({ wire: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' }))
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1'])
  const i32 = new Int32Array(gw.table.sab)
  const releases = (): number => Atomics.load(i32, workerBase(0) + W_IDLE_RELEASES)
  const burst = async (): Promise<void> => {
    for (let i = 0; i < 50; i++) {
      const res = await fetch(gw.url + '/')
      t.equal(res.status, 200)
      await res.text()
    }
  }
  // Generous bounds: the release comes QUIET_MS after the last request, on a loaded machine.
  const bound = QUIET_MS * 4
  t.ok(await waitFor(() => releases() === 1, bound), `one release after the start, which allocated too (${releases()})`)
  t.ok(Atomics.load(i32, workerBase(0) + W_IDLE_HEAP_KIB) > 0, 'the thread reported its heap after the release')
  await sleep(QUIET_MS + 2000)
  t.equal(releases(), 1, 'no second release while the thread stays idle')
  await burst()
  t.ok(await waitFor(() => releases() === 2, bound), `one release after the first burst (${releases()})`)
  await sleep(QUIET_MS + 2000)
  t.equal(releases(), 2, 'none again while the thread stays idle')
  await burst()
  t.ok(await waitFor(() => releases() === 3, bound), `another after new traffic (${releases()})`)
})
