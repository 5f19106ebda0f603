/**
 * A takeover begun and never finished (the new instance crashed after the begin step) must not
 * leave the fleet without a control plane: past the hand-over deadline the old instance takes its
 * lease back and acts again, or, if another instance holds the lease by then, drains. A real
 * lease on the Docker engine, a real plane and the real route; the deadline shortened to 300 ms.
 */
import t from 'tap'
import { ControlPlane } from '../../src/control/plane'
import { DockerLeaseCarrier } from '../../src/lease/docker'
import { leaseName } from '../../src/lease/carrier'
import { Lease } from '../../src/lease/lease'
import { createLogger } from '../../src/log'
import { Handover } from '../../src/takeover/handover'
import type { AdminHandler } from '../../src/admin/server'
import { TEST_IMAGE, dockerClient, ensureEngineAndImage, uniqueService, waitFor } from '../helpers/docker'

ensureEngineAndImage()
const log = createLogger('error', () => {})

function setUp (t: { teardown: (fn: () => unknown) => void }, service: string): { plane: ControlPlane, lease: Lease, handover: Handover, post: AdminHandler, drained: () => number } {
  const plane = new ControlPlane()
  const lease = new Lease({ carrier: new DockerLeaseCarrier(service, TEST_IMAGE), service, holder: { instance: 'old', pid: 1, host: 'test' }, log, onLost: () => {} })
  const handover = new Handover({ plane, lease, log, window: () => [1, 2, 3], admin: () => '127.0.0.1:1', beginDeadlineMs: 300 })
  let drains = 0
  handover.onDrain = () => { drains++ }
  const route = handover.route() as { POST: AdminHandler }
  t.teardown(async () => {
    handover.close()
    await lease.release()
    await dockerClient().getContainer(leaseName(service)).remove({ force: true }).catch(() => {})
  })
  return { plane, lease, handover, post: route.POST, drained: () => drains }
}

t.test('no drain step within the deadline: the old instance takes its lease back and acts again', async (t) => {
  const service = uniqueService('abandon')
  const { plane, lease, post, drained } = setUp(t, service)
  await lease.acquire('127.0.0.1:1')
  const begun = await post(JSON.stringify({ step: 'begin' }))
  t.equal(begun.status, 200)
  t.same(JSON.parse(begun.body), { window: [1, 2, 3], windowSeconds: 3 }, 'the window handed over')
  t.equal(plane.state, 'handing-over')
  t.equal(await lease.current(), null, 'the lease released')
  t.equal((await post(JSON.stringify({ step: 'begin' }))).status, 409, 'a second begin is refused')
  await waitFor('acting again', async () => plane.state === 'acting' ? true : undefined, 10_000, 50)
  t.ok(lease.held !== null, 'the lease held again')
  t.equal((await lease.current())?.holder.instance, 'old', 'in the old instance\'s name')
  t.equal(drained(), 0, 'no drain')
  t.equal((await post(JSON.stringify({ step: 'drain' }))).status, 409, 'a late drain step is refused')
})

t.test('no drain step, but another instance took the lease: the old one drains', async (t) => {
  const service = uniqueService('abandon2')
  const { plane, lease, post, drained } = setUp(t, service)
  await lease.acquire('127.0.0.1:1')
  t.equal((await post(JSON.stringify({ step: 'begin' }))).status, 200)
  const other = new Lease({ carrier: new DockerLeaseCarrier(service, TEST_IMAGE), service, holder: { instance: 'new', pid: 2, host: 'test' }, log, onLost: () => {} })
  t.teardown(() => other.release())
  await other.acquire('127.0.0.1:2')
  await waitFor('drained', async () => drained() === 1 ? true : undefined, 15_000, 50)
  t.equal(plane.state, 'handing-over', 'it never acted again')
  t.equal(lease.held, null)
  t.equal((await lease.current())?.holder.instance, 'new', 'the other instance keeps the lease')
})
