/**
 * Scaling against the real engine and the example API image: the first start gives one
 * container on --base-port, load scales to exactly the formula's count on consecutive ports,
 * idle scales back to one after a window, and a port held by something else is skipped.
 * Host ports 18100-18119.
 */
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { TEST_IMAGE, ensureEngineAndImage, serviceContainers, uniqueService } from '../helpers/docker'
import { delay, getStatus, healthyPorts, load, logEvents, startFleet, waitForStatus } from './harness'

ensureEngineAndImage()

const FAST = ['--image', TEST_IMAGE, '--fault-interval', '300ms', '--drain-timeout', '2s']

t.test('one container on base-port; load scales to the formula on consecutive ports; idle back to one', async (t) => {
  const service = uniqueService('scale')
  const gw = await startFleet(t, service, [...FAST, '--base-port', '18100', '--window', '3s', '--base-scale-count', '5', '--max-containers', '6'])

  const first = await serviceContainers(service)
  t.same(first.map((c) => [c.port, c.running, c.name]), [[18100, true, `symphony-${service}-18100`]], 'the first start gives one container on base-port')
  let s = await getStatus(gw)
  t.match(s, {
    mode: 'docker',
    backends: [{ slot: 0, port: 18100, state: 'healthy', id: first[0].id, name: first[0].name, phase: 'ready' }],
    autoscaler: { window: { seconds: 3 }, desired: 1, current: 1, thresholds: { baseScaleCount: 5, minContainers: 1, maxContainers: 6, scaleUpAt: 5, scaleDownBelow: null } }
  })
  t.same(await load(gw, 1), [200], 'it serves from the first request')

  // 1 + 12 requests in the window: desired = 1 + floor(13 / 5) = 3.
  const burstFrom = Date.now()
  t.same(await load(gw, 12), new Array(12).fill(200))
  s = await waitForStatus(gw, 'three healthy replicas', (x) => healthyPorts(x).length === 3)
  t.same(healthyPorts(s), [18100, 18101, 18102], 'consecutive ports')
  // The count may already be 12 when a tick falls inside the burst (1 + floor(12 / 5) = 3 too), and
  // on a loaded machine the first request can leave the 3 s window before the replicas are up.
  t.match(s.autoscaler, { desired: 3, current: 3 })
  t.ok(s.autoscaler.window.count >= 10 && s.autoscaler.window.count <= 13, `window count ${s.autoscaler.window.count}: 10-13`)
  // Usually one step (add 2 at a count of 10-13); when a 1 s tick falls early in the burst (a
  // count of 5-9: desired 2) two steps of one (CI at 3098f6c). Either way each port once.
  const ups = logEvents(gw, 'scale').filter((l) => l.direction === 'up' && Date.parse(l.time as string) >= burstFrom)
  t.same(ups.flatMap((l) => l.ports as number[]), [18101, 18102], `the burst started 18101 and 18102, once each (${ups.length} step(s))`)
  const up = ups.at(-1)
  t.match(up, { windowSeconds: 3, desired: 3, current: 3 - (up?.add as number) })
  t.ok((up?.count as number) >= 10 && (up?.count as number) <= 13, `scaled up to 3 at a count of ${up?.count as number}: 10-13`)
  await delay(1000)
  t.equal((await serviceContainers(service)).length, 3, 'exactly the formula\'s count: no over-start')

  // Idle: the burst leaves the window 3 s after it began, desired 1 must then hold for a whole
  // window: no scale-down before burstFrom + 6 s (5 s allows for the 1 s tick).
  s = await waitForStatus(gw, 'back to one replica', (x) => x.backends.length === 1, 20_000)
  t.same(s.backends.map((b) => [b.port, b.state]), [[18100, 'healthy']], 'the highest ports left first; base-port stays')
  const firstDown = logEvents(gw, 'scale').find((l) => l.direction === 'down')
  const downAt = Date.parse(firstDown?.time as string)
  t.ok(downAt - burstFrom >= 5000, `not before a whole window below: scaled down ${downAt - burstFrom} ms after the burst began`)
  const left = await serviceContainers(service)
  t.same(left.map((c) => c.id), [first[0].id], 'the leaving containers were stopped and removed')
  const downs = logEvents(gw, 'scale').filter((l) => l.direction === 'down')
  t.equal((downs[0]?.ports as number[])[0], 18102, 'highest port first')
  t.match(downs.at(-1), { msg: 'scale down', desired: 1, windowSeconds: 3 })
  t.same(logEvents(gw, 'remove').map((l) => l.port).sort(), [18101, 18102])
})

t.test('a host port held by something else is skipped and logged', async (t) => {
  const holder = net.createServer()
  holder.listen(18110, '127.0.0.1')
  await once(holder, 'listening')
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())))
  const service = uniqueService('skip')
  const gw = await startFleet(t, service, [...FAST, '--base-port', '18110', '--window', '3s'])
  const s = await waitForStatus(gw, 'one healthy replica', (x) => healthyPorts(x).length === 1)
  t.same(healthyPorts(s), [18111], 'the next free port')
  t.match(logEvents(gw, 'port-skipped'), [{ level: 'warn', port: 18110 }])
  t.same((await serviceContainers(service)).map((c) => c.port), [18111], 'no container left behind on the held port')
  t.match(s.counters, { portsSkipped: 1 })
})
