import t from 'tap'
import { QUIET_MS } from '../../src/idle-policy'
import { sleep, startTestGateway, waitFor } from '../helpers/gateway'
import { rawBackend } from '../helpers/raw-backend'

/**
 * Issue #23 point 7: the main thread gives back what the traffic grew in its heap once the
 * gateway has turned idle, as the proxy threads do (test/worker/idle-release.test.ts, which also
 * walks the shared policy, src/idle-policy.ts, through its states by table). A real gateway's
 * main thread must release once after its start, once after a burst of requests, not again
 * while idle, and again after new traffic. No memory figure here (bench/soak.ts measures what the releases give back).
 */

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
  // Generous bounds: the release comes QUIET_MS after the last request, on a loaded machine.
  const bound = QUIET_MS * 4
  t.ok(await waitFor(() => releases() === 1, bound), `one release after the start, which allocated too (${releases()})`)
  await sleep(QUIET_MS + 2000)
  t.equal(releases(), 1, 'no second release while the gateway stays idle')
  await burst()
  t.ok(await waitFor(() => releases() === 2, bound), `one release after the first burst (${releases()})`)
  await sleep(QUIET_MS + 2000)
  t.equal(releases(), 2, 'none again while the gateway stays idle')
  await burst()
  t.ok(await waitFor(() => releases() === 3, bound), `another after new traffic (${releases()})`)
})
