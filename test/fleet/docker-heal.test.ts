/**
 * The healer against the real engine: an unhealthy container (POST /admin/health/fail on its
 * published port) and a `docker kill`ed one are replaced on the same host port, within the fault
 * interval plus start-up time, and the gateway serves again through the new one.
 * Host ports 18120-18139.
 */
import t from 'tap'
import { TEST_IMAGE, dockerClient, ensureEngineAndImage, serviceContainers, uniqueService } from '../helpers/docker'
import { call, load, logEvents, startFleet, waitForStatus, type StatusDoc } from './harness'

ensureEngineAndImage()
const docker = dockerClient()

const FAULT_MS = 300
/** Generous start-up budget of a container of the example image (measured: 0.4-1 s). */
const STARTUP_MS = 5000
const FAST = ['--image', TEST_IMAGE, '--fault-interval', `${FAULT_MS}ms`, '--window', '3s']

const replacedOn = (port: number, oldId: string) => (s: StatusDoc): boolean =>
  s.backends.some((b) => b.port === port && b.state === 'healthy' && b.id !== null && b.id !== oldId)

async function gone (id: string): Promise<boolean> {
  return await docker.getContainer(id).inspect().then(() => false, (err: { statusCode?: number }) => err.statusCode === 404)
}

t.test('an unhealthy container is replaced on the same port', async (t) => {
  const service = uniqueService('unhealthy')
  const gw = await startFleet(t, service, [...FAST, '--base-port', '18120'])
  const [old] = await serviceContainers(service)
  t.equal(old.port, 18120)

  t.equal(await call('http://127.0.0.1:18120/admin/health/fail', 'POST'), 200)
  const failedAt = Date.now()
  const s = await waitForStatus(gw, 'a healthy replacement on 18120', replacedOn(18120, old.id), FAULT_MS + STARTUP_MS)
  const tookMs = Date.now() - failedAt
  t.ok(tookMs < FAULT_MS + STARTUP_MS, `replaced in ${tookMs} ms`)
  const now = await serviceContainers(service)
  t.same(now.map((c) => [c.port, c.running]), [[18120, true]], 'one container, on the same port')
  t.equal(now[0].id, s.backends[0].id)
  t.ok(await gone(old.id), 'the unhealthy one was removed')
  t.match(logEvents(gw, 'replica-failed'), [{ reason: 'health-status', status: 500, port: 18120, id: old.id }])
  t.match(logEvents(gw, 'replace'), [{ reason: 'health-status', port: 18120, oldId: old.id, newId: now[0].id }])
  t.same(await load(gw, 3), [200, 200, 200], 'the gateway serves through the new one')
  t.match(s.counters, { replacements: { 'health-status': 1 } })
})

t.test('a docker-killed container is replaced on the same port at once', async (t) => {
  const service = uniqueService('killed')
  const gw = await startFleet(t, service, [...FAST, '--base-port', '18125', '--min-containers', '2'])
  await waitForStatus(gw, 'two healthy', (s) => s.backends.filter((b) => b.state === 'healthy').length === 2)
  const before = await serviceContainers(service)
  t.same(before.map((c) => c.port), [18125, 18126])
  const victim = before[1]

  await docker.getContainer(victim.id).kill()
  const killedAt = Date.now()
  await waitForStatus(gw, 'a healthy replacement on 18126', replacedOn(18126, victim.id), FAULT_MS + STARTUP_MS)
  t.ok(Date.now() - killedAt < FAULT_MS + STARTUP_MS)
  // Usually the engine's kill event arrives first; on a loaded machine the 300 ms probe can see
  // the dead port before the event is delivered. Either way it is replaced at once (the event
  // path alone is proven with the scripted runtime in containers.test.ts).
  t.match(logEvents(gw, 'replica-failed'), [{ reason: /^(exit-kill|health-(refused|timeout|status))$/, port: 18126, id: victim.id }], 'seen through the event stream or the next probe')
  const after = await serviceContainers(service)
  t.same(after.map((c) => [c.port, c.running]), [[18125, true], [18126, true]], 'no duplicate, no leftover')
  t.equal(after[0].id, before[0].id, 'the healthy neighbour was left alone')
  t.ok(await gone(victim.id))
  t.same(await load(gw, 4), [200, 200, 200, 200])
})
