import { QUIET_MS } from '../../src/idle-policy'
import { sleep, startTestGateway, waitFor } from './gateway'
import { rawBackend } from './raw-backend'

type Gateway = Awaited<ReturnType<typeof startTestGateway>>

interface Asserts {
  ok: (v: boolean, msg: string) => void
  equal: (a: unknown, b: unknown, msg: string) => void
  teardown: (fn: () => unknown) => void
}

/**
 * The release rhythm both kinds of thread follow (src/idle-policy.ts), on a real gateway with one
 * proxy thread: once after its start (which allocated too), none while it stays idle, once after
 * a burst of requests, none again while idle, once more after new traffic. `releasesOf` reads the
 * count of the thread under test (`who`: "gateway" for the main thread, "thread" for a proxy
 * thread); `afterFirst` runs once the first release is seen.
 */
export async function checkIdleRhythm (t: Asserts, who: string, releasesOf: (gw: Gateway) => () => number, afterFirst?: (gw: Gateway) => void): Promise<void> {
  const be = await rawBackend(() => ({ wire: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' }))
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1'])
  const releases = releasesOf(gw)
  const burst = async (): Promise<void> => {
    for (let i = 0; i < 50; i++) {
      const res = await fetch(gw.url + '/')
      t.equal(res.status, 200, 'answered 200')
      await res.text()
    }
  }
  // Generous bounds: the release comes QUIET_MS after the last request, on a loaded machine.
  const bound = QUIET_MS * 4
  t.ok(await waitFor(() => releases() === 1, bound), `one release after the start, which allocated too (${releases()})`)
  afterFirst?.(gw)
  await sleep(QUIET_MS + 2000)
  t.equal(releases(), 1, `no second release while the ${who} stays idle`)
  await burst()
  t.ok(await waitFor(() => releases() === 2, bound), `one release after the first burst (${releases()})`)
  await sleep(QUIET_MS + 2000)
  t.equal(releases(), 2, `none again while the ${who} stays idle`)
  await burst()
  t.ok(await waitFor(() => releases() === 3, bound), `another after new traffic (${releases()})`)
}
