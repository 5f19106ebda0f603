import t from 'tap'
import { MAIN_QUIET_MS, MainIdlePhase, mainIdleStart, mainIdleStep, type MainIdleState } from '../../src/memory/idle-release'
import { sleep, startTestGateway, waitFor } from '../helpers/gateway'
import { rawBackend } from '../helpers/raw-backend'

/**
 * Issue #23 point 7: the main thread gives back what the traffic grew in its heap once the
 * gateway has turned idle, as the proxy threads do (test/worker/idle-release.test.ts). The
 * policy walks through its states by table; then a real gateway's main thread must release
 * once after its start, once after a burst of requests, not again while idle, and again after
 * new traffic. No memory figure here (bench/soak.ts measures what the releases give back).
 */

const Q = 1000

t.test('mainIdleStep: every transition', async (t) => {
  t.equal(mainIdleStart(5).phase, MainIdlePhase.BUSY, 'the main thread starts BUSY: its start allocated')
  const settled: MainIdleState = { phase: MainIdlePhase.SETTLED, requests: 5, quietSince: 0 }
  const cases: Array<{ name: string, from: MainIdleState, requests: number, now: number, phase: number, release: boolean }> = [
    { name: 'settled, nothing moved: stays settled', from: settled, requests: 5, now: 10 * Q, phase: MainIdlePhase.SETTLED, release: false },
    { name: 'settled, requests arrived: busy', from: settled, requests: 6, now: 0, phase: MainIdlePhase.BUSY, release: false },
    { name: 'busy, nothing moved: quiet', from: { phase: MainIdlePhase.BUSY, requests: 5, quietSince: 0 }, requests: 5, now: 7, phase: MainIdlePhase.QUIET, release: false },
    { name: 'busy, more requests: busy', from: { phase: MainIdlePhase.BUSY, requests: 5, quietSince: 0 }, requests: 9, now: 7, phase: MainIdlePhase.BUSY, release: false },
    { name: 'quiet, before the quiet time: quiet', from: { phase: MainIdlePhase.QUIET, requests: 5, quietSince: 100 }, requests: 5, now: 100 + Q - 1, phase: MainIdlePhase.QUIET, release: false },
    { name: 'quiet, at the quiet time: release, settled', from: { phase: MainIdlePhase.QUIET, requests: 5, quietSince: 100 }, requests: 5, now: 100 + Q, phase: MainIdlePhase.SETTLED, release: true },
    { name: 'quiet, a request arrived: busy', from: { phase: MainIdlePhase.QUIET, requests: 5, quietSince: 100 }, requests: 6, now: 100 + Q, phase: MainIdlePhase.BUSY, release: false }
  ]
  for (const c of cases) {
    const d = mainIdleStep(c.from, c.requests, c.now, Q)
    t.equal(d.state.phase, c.phase, `${c.name}: phase`)
    t.equal(d.release, c.release, `${c.name}: release`)
    t.equal(d.state.requests, c.requests, `${c.name}: total remembered`)
  }
  let s = mainIdleStart(0)
  let releases = 0
  const ticks: Array<[number, number]> = [[0, 0], [0, 1000], [0, 2000], [3, 3000], [8, 4000], [8, 5000], [8, 6000], [8, 7000], [8, 9000], [8, 12000]]
  for (const [requests, now] of ticks) {
    const d = mainIdleStep(s, requests, now, Q)
    s = d.state
    if (d.release) releases++
  }
  t.equal(releases, 2, 'one release for the start, one for the traffic: one per quiet spell')
})

t.test('the main thread releases once after its start, once after the traffic, and again only after new traffic', async (t) => {
  const be = await rawBackend(() => ({ wire: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' }))
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1'])
  const releases = (): number => gw.idleRelease.releases
  const burst = async (): Promise<void> => {
    for (let i = 0; i < 50; i++) {
      const res = await fetch(gw.url + '/')
      t.equal(res.status, 200)
      await res.text()
    }
  }
  // Generous bounds: the release comes MAIN_QUIET_MS after the last request, on a loaded machine.
  const bound = MAIN_QUIET_MS * 4
  t.ok(await waitFor(() => releases() === 1, bound), `one release after the start, which allocated too (${releases()})`)
  await sleep(MAIN_QUIET_MS + 2000)
  t.equal(releases(), 1, 'no second release while the gateway stays idle')
  await burst()
  t.ok(await waitFor(() => releases() === 2, bound), `one release after the first burst (${releases()})`)
  await sleep(MAIN_QUIET_MS + 2000)
  t.equal(releases(), 2, 'none again while the gateway stays idle')
  await burst()
  t.ok(await waitFor(() => releases() === 3, bound), `another after new traffic (${releases()})`)
})
