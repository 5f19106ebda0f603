/**
 * Health thresholds against the real engine (issue 10). The example app scripts late health
 * answers (POST /admin/health/stall?ms=N&count=K on its published port):
 * - one answer 700 ms late at --fault-interval 500ms (timeout 400 ms) is tolerated: no
 *   replacement, the timeout is counted in /metrics and shown in /status while it lasts;
 * - the same stall with --unhealthy-threshold 1 replaces the replica (the stall is a real timeout);
 * - a replica that stops answering its health checks is replaced after 3 timeouts in a row;
 * - a 500 still replaces at once.
 * Host ports 18520-18539.
 */
import t from 'tap'
import { request } from 'undici'
import { TEST_IMAGE, ensureEngineAndImage, serviceContainers, uniqueService } from '../helpers/docker'
import { call, delay, getStatus, load, logEvents, startFleet, waitForStatus, type StatusDoc } from './harness'

ensureEngineAndImage()

const FAULT_MS = 500
/** Generous start-up budget of a container of the example image (measured: 0.4-1 s). */
const STARTUP_MS = 5000
const FAST = ['--image', TEST_IMAGE, '--fault-interval', `${FAULT_MS}ms`, '--window', '3s']

type Backend = StatusDoc['backends'][number] & { healthTimeouts?: number }

const replacedOn = (port: number, oldId: string) => (s: StatusDoc): boolean =>
  s.backends.some((b) => b.port === port && b.state === 'healthy' && b.id !== null && b.id !== oldId)

async function metric (admin: string, name: string): Promise<number> {
  const res = await request(`${admin}/metrics`)
  const text = await res.body.text()
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

t.test('one health answer 700 ms late does not replace the replica', async (t) => {
  const service = uniqueService('slow-once')
  const gw = await startFleet(t, service, [...FAST, '--base-port', '18520'])
  const [old] = await serviceContainers(service)
  t.equal(await call('http://127.0.0.1:18520/admin/health/stall?ms=700&count=1', 'POST'), 200)
  // While the timeout is the last result, /status shows it on the replica.
  const during = await waitForStatus(gw, 'one timeout shown', (s) => s.backends.some((b) => (b as Backend).healthTimeouts === 1), 3 * FAULT_MS + 1000)
  t.equal(during.backends[0].state, 'healthy', 'still in rotation during the count')
  // Six more intervals: the replica answers normally again and stays.
  await delay(6 * FAULT_MS)
  const after = await getStatus(gw)
  t.equal(after.backends[0].id, old.id, 'the same container serves')
  t.equal((after.backends[0] as Backend).healthTimeouts, 0, 'the streak ended with the next 200')
  t.match(after, { health: { unhealthyThreshold: 3, timeoutsTolerated: 1 } })
  t.same((await serviceContainers(service)).map((c) => c.id), [old.id], 'no container replaced')
  t.same(logEvents(gw, 'replica-failed'), [], 'no replica failed')
  t.match(logEvents(gw, 'health-timeout-tolerated'), [{ timeouts: 1, threshold: 3 }])
  t.equal(await metric(gw.admin, 'symphony_health_timeouts_tolerated_total'), 1, 'counted in /metrics')
  t.equal(await metric(gw.admin, 'symphony_health_checks_total{result="timeout"}'), 1)
  t.same(await load(gw, 3), [200, 200, 200])
})

t.test('the same stall with --unhealthy-threshold 1 replaces the replica (the old rule)', async (t) => {
  const service = uniqueService('slow-once-t1')
  const gw = await startFleet(t, service, [...FAST, '--base-port', '18525', '--unhealthy-threshold', '1'])
  const [old] = await serviceContainers(service)
  t.equal(await call('http://127.0.0.1:18525/admin/health/stall?ms=700&count=1', 'POST'), 200)
  await waitForStatus(gw, 'a replacement on 18525', replacedOn(18525, old.id), FAULT_MS + STARTUP_MS)
  t.match(logEvents(gw, 'replica-failed'), [{ reason: 'health-timeout', port: 18525, id: old.id }])
})

t.test('a replica that stops answering its health checks is replaced after 3 timeouts in a row', async (t) => {
  const service = uniqueService('stalled')
  const gw = await startFleet(t, service, [...FAST, '--base-port', '18530'])
  const [old] = await serviceContainers(service)
  t.equal(await call('http://127.0.0.1:18530/admin/health/stall?ms=600000&count=0', 'POST'), 200)
  const stalledAt = Date.now()
  await waitForStatus(gw, 'a healthy replacement on 18530', replacedOn(18530, old.id), 3 * FAULT_MS + STARTUP_MS)
  const tookMs = Date.now() - stalledAt
  t.comment(`stalled replica to replacement serving: ${tookMs} ms (threshold 3 x ${FAULT_MS} ms interval)`)
  t.ok(tookMs >= 2 * FAULT_MS, `not before the third timeout (${tookMs} ms)`)
  t.match(logEvents(gw, 'health-timeout-tolerated'), [{ timeouts: 1 }, { timeouts: 2 }], 'two timeouts tolerated first')
  t.match(logEvents(gw, 'replica-failed'), [{ reason: 'health-timeout', port: 18530, id: old.id }])
  t.same(await load(gw, 3), [200, 200, 200], 'the gateway serves through the new one')
})

t.test('a 500 still replaces the replica at once', async (t) => {
  const service = uniqueService('fails')
  const gw = await startFleet(t, service, [...FAST, '--base-port', '18535'])
  const [old] = await serviceContainers(service)
  t.equal(await call('http://127.0.0.1:18535/admin/health/fail', 'POST'), 200)
  const failedAt = Date.now()
  await waitForStatus(gw, 'a healthy replacement on 18535', replacedOn(18535, old.id), FAULT_MS + STARTUP_MS)
  const tookMs = Date.now() - failedAt
  t.comment(`failing replica (500) to replacement serving: ${tookMs} ms`)
  t.match(logEvents(gw, 'replica-failed'), [{ reason: 'health-status', status: 500, port: 18535, id: old.id }])
  t.same(logEvents(gw, 'health-timeout-tolerated'), [], 'no threshold in the way')
})
