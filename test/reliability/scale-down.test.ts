/**
 * Scale-down under load (issue 6): replicas leave while requests keep coming; each is drained
 * first (out of rotation, in-flight requests finish), so no request fails. Host ports 18220-18229.
 */
import t from 'tap'
import { Agent, request } from 'undici'
import { TEST_IMAGE, ensureEngineAndImage, serviceContainers, uniqueService } from '../helpers/docker'
import { startFleet, waitForStatus, healthyPorts } from '../fleet/harness'
import { sleep } from '../helpers/gateway'

ensureEngineAndImage()

t.test('scaling down (from 4) under steady load: zero failed requests', async (t) => {
  const service = uniqueService('scaledown')
  const gw = await startFleet(t, service, [
    '--image', TEST_IMAGE, '--base-port', '18220', '--max-containers', '4', '--window', '3s',
    '--base-scale-count', '20', '--fault-interval', '300ms'
  ])
  const agent = new Agent({ connections: 8 })
  t.teardown(() => agent.close())
  let ok = 0
  const failures: string[] = []
  let phase: 'burst' | 'steady' | 'stop' = 'burst'
  const one = async (): Promise<void> => {
    try {
      // /slow keeps requests in flight while replicas leave, so draining is really exercised.
      const res = await request(`${gw.url}/slow?ms=50`, { dispatcher: agent, headersTimeout: 10_000 })
      await res.body.dump()
      if (res.statusCode === 200) ok++
      else failures.push(String(res.statusCode))
    } catch (err) { failures.push((err as Error & { code?: string }).code ?? (err as Error).message) }
  }
  const burst = async (): Promise<void> => { while (phase === 'burst') await one() }
  const steady = async (): Promise<void> => {
    while (phase !== 'stop') {
      if (phase === 'steady') { await one(); await sleep(70) } else await sleep(50)
    }
  }
  const loops = [...Array.from({ length: 6 }, burst), steady(), steady()]
  await waitForStatus(gw, 'scaled to 4', (s) => healthyPorts(s).length === 4, 20_000)
  phase = 'steady' // about 2 x 10 requests a second: far fewer than the burst, so replicas leave
  await waitForStatus(gw, 'scaled down', (s) => healthyPorts(s).length <= 3, 20_000)
  await waitForStatus(gw, 'settled at 2 or 3', (s) => s.backends.length <= 3 && s.backends.every((b) => b.state === 'healthy'), 20_000)
  await sleep(1000)
  phase = 'stop'
  await Promise.all(loops)
  const downs = gw.logs.filter((l) => l.event === 'scale' && l.direction === 'down')
  t.ok(downs.length >= 1, `scaled down (${downs.map((d) => JSON.stringify(d.ports)).join(', ')})`)
  t.ok(ok > 100, `${ok} requests succeeded`)
  t.same(failures, [], 'no request failed while replicas left')
  const left = await serviceContainers(service)
  t.equal(left.length, (await (await request(`${gw.admin}/status`)).body.json() as { backends: unknown[] }).backends.length, 'every removed container is gone')
})
