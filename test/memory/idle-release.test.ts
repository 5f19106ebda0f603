import t from 'tap'
import { checkIdleRhythm } from '../helpers/idle-rhythm'

/**
 * Issue #23 point 7: the main thread gives back what the traffic grew in its heap once the
 * gateway has turned idle, as the proxy threads do (test/worker/idle-release.test.ts, which also
 * walks the shared policy, src/idle-policy.ts, through its states by table). A real gateway's
 * main thread must release once after its start, once after a burst of requests, not again
 * while idle, and again after new traffic. No memory figure here (bench/soak.ts measures what the releases give back).
 */

t.test('the main thread releases once after its start, once after the traffic, and again only after new traffic', async (t) => {
  await checkIdleRhythm(t, 'gateway', (gw) => () => gw.idleRelease.releases)
})
