/**
 * Shutdown never heals (issue 23): once SIGTERM came, a replica that disappears (removed as
 * `docker stack rm` or a user's cleanup would) is not re-created, while the drain still serves the
 * request in flight. The real CLI and real containers. Host ports 18850-18852.
 */
import t from 'tap'
import { request } from 'undici'
import { startCli } from '../helpers/cli'
import { TEST_IMAGE, dockerClient, ensureEngineAndImage, removeServiceContainers, serviceContainers, uniqueService, waitFor } from '../helpers/docker'
import { leaseName } from '../../src/lease/carrier'

ensureEngineAndImage()

const docker = dockerClient()

t.test('replicas removed during the drain are not re-created; the request in flight is served; exit 0', async (t) => {
  const service = uniqueService('noheal')
  t.teardown(async () => {
    await removeServiceContainers(service)
    await docker.getContainer(leaseName(service)).remove({ force: true }).catch(() => {})
  })
  const cli = await startCli(t, [
    '--image', TEST_IMAGE, '--service', service, '--base-port', '18850', '--min-containers', '3', '--max-containers', '3',
    '--fault-interval', '300ms', '--health-timeout', '250ms', '--threads', '1', '--drain-timeout', '30s'
  ])
  const admin = `http://127.0.0.1:${cli.adminPort}`
  await waitFor('3 healthy', async () => {
    const s = await (await request(`${admin}/status`)).body.json() as { backends: Array<{ state: string }> }
    return s.backends.length === 3 && s.backends.every((b) => b.state === 'healthy') ? true : undefined
  }, 30_000, 100)
  const before = await serviceContainers(service)

  // A slow request holds the drain open; find the replica serving it.
  const SLOW_MS = 5000
  const slow = request(`http://127.0.0.1:${cli.port}/slow?ms=${SLOW_MS}`).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }))
  const busyPort = await waitFor('the slow request in flight', async () => {
    const s = await (await request(`${admin}/status`)).body.json() as { backends: Array<{ port: number, inflight: number }> }
    return s.backends.find((b) => b.inflight > 0)?.port
  }, 5000, 20)
  const others = before.filter((c) => c.port !== busyPort)
  t.equal(others.length, 2)

  const signalledAt = new Date().toISOString()
  cli.child.kill('SIGTERM')
  // The replicas the request does not need go away while the drain goes on.
  await Promise.all(others.map((c) => docker.getContainer(c.id).remove({ force: true })))
  const removedAt = Date.now()
  const status = await (await request(`${admin}/status`)).body.json() as { controlPlane: { state: string } }
  t.equal(status.controlPlane.state, 'stopping', '/status: the plane is stopping during the drain')

  const answer = await slow
  t.equal(answer.status, 200, 'the request in flight was served through the drain')
  t.equal(await cli.exited, 0, 'exit 0')
  t.ok(Date.now() - removedAt > 1000, `the drain lasted ${Date.now() - removedAt} ms after the removal: time enough for a heal`)

  const after = await serviceContainers(service)
  t.same(after.map((c) => c.id), before.filter((c) => c.port === busyPort).map((c) => c.id), 'only the busy replica is left: nothing re-created')
  const lines = cli.lines.map((l) => { try { return JSON.parse(l) } catch { return {} } }) as Array<Record<string, unknown>>
  const late = lines.filter((o) => String(o.time) >= signalledAt)
  t.same(late.filter((o) => o.event === 'start' || o.event === 'replace' || o.event === 'scale'), [], 'no start, replacement or scaling after the signal')
  t.ok(late.some((o) => o.event === 'plane' && o.state === 'stopping'), 'the plane said it stopped acting')
  const failed = late.filter((o) => o.event === 'replica-failed')
  t.ok(failed.length > 0, `the removals were seen (${failed.length} replica-failed lines)`)
  t.ok(failed.every((o) => o.replaced === false), 'and none was replaced')
})
