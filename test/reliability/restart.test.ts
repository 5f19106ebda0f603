/**
 * The orchestrator killed with SIGKILL (no chance to clean up) and started again: it adopts its
 * containers, starts no duplicate and leaves no orphan, even when a container died meanwhile.
 * Host ports 18210-18219 (Docker) and 18230-18239 (process runtime).
 */
import t from 'tap'
import { request } from 'undici'
import { startCli, type RunningCli } from '../helpers/cli'
import { TEST_IMAGE, healthyReplicas, dockerClient, ensureEngineAndImage, exampleServer, removeServiceContainers, serviceContainers, uniqueService, waitFor } from '../helpers/docker'
import { alive } from '../../src/runtime/orphans'

ensureEngineAndImage()

function healthy (cli: RunningCli, n: number): Promise<Array<{ port: number, id: string }>> {
  return healthyReplicas(cli.adminPort, n, 20_000)
}

t.test('SIGKILL, then a new start adopts the survivors and replaces the dead: no duplicates, no orphans', async (t) => {
  const service = uniqueService('sigkill')
  t.teardown(() => removeServiceContainers(service))
  const args = ['--image', TEST_IMAGE, '--service', service, '--base-port', '18210', '--min-containers', '3', '--fault-interval', '300ms', '--threads', '1']
  const first = await startCli(t, args)
  const before = await healthy(first, 3)
  first.child.kill('SIGKILL')
  await first.exited
  const left = await serviceContainers(service)
  t.same(left.map((c) => [c.port, c.running]), [[18210, true], [18211, true], [18212, true]], 'SIGKILL left the three containers running')

  // One of them dies while no orchestrator runs.
  await dockerClient().getContainer(left[1].id).kill()

  const second = await startCli(t, args)
  const after = await healthy(second, 3)
  t.same(after.map((b) => b.port), [18210, 18211, 18212], 'the same three ports')
  t.equal(after[0].id, before[0].id, '18210 adopted')
  t.equal(after[2].id, before[2].id, '18212 adopted')
  t.not(after[1].id, before[1].id, '18211 (dead meanwhile) replaced')
  const all = await serviceContainers(service)
  t.same(all.map((c) => [c.port, c.running]).sort(), [[18210, true], [18211, true], [18212, true]], 'exactly three containers of the service: no duplicate, no orphan')
  const res = await request(`http://127.0.0.1:${second.port}/api/v1/hello`)
  t.equal(res.statusCode, 200)
  await res.body.dump()
})

t.test('process runtime: SIGKILL, then a new start adopts the running children; one that died meanwhile is replaced', async (t) => {
  const service = uniqueService('procsig')
  const args = ['--runtime', 'process', '--command', `${process.execPath} ${exampleServer}`, '--service', service,
    '--base-port', '18230', '--min-containers', '3', '--fault-interval', '300ms', '--threads', '1']
  const first = await startCli(t, args)
  const before = await healthy(first, 3)
  const pids = before.map((b) => Number(b.id.slice('pid:'.length)))
  // Whatever happens below, no child may outlive the test.
  t.teardown(() => { for (const pid of pids) { try { process.kill(-pid, 'SIGKILL') } catch {} } })
  first.child.kill('SIGKILL')
  await first.exited
  t.same(pids.map(alive), [true, true, true], 'SIGKILL left the three children running')

  // One of them dies while no orchestrator runs.
  process.kill(-pids[1], 'SIGKILL')
  await waitFor('the killed child gone', async () => alive(pids[1]) ? undefined : true, 5000)

  const second = await startCli(t, [...args, '--cleanup-on-exit'])
  const after = await healthy(second, 3)
  pids.push(...after.map((b) => Number(b.id.slice('pid:'.length))))
  t.same(after.map((b) => b.port), [18230, 18231, 18232], 'the same three ports')
  t.equal(after[0].id, before[0].id, '18230 adopted')
  t.equal(after[2].id, before[2].id, '18232 adopted')
  t.not(after[1].id, before[1].id, '18231 (dead meanwhile) replaced on its own port')
  const adopted = second.lines.map((l) => { try { return JSON.parse(l) } catch { return {} } }).filter((o) => o.event === 'adopt')
  t.same(adopted.map((o) => o.port).sort(), [18230, 18232], 'adoption is logged')
  const res = await request(`http://127.0.0.1:${second.port}/api/v1/hello`)
  t.equal(res.statusCode, 200)
  await res.body.dump()

  // An adopted child that dies is noticed (it is not our child: by polling) and replaced.
  process.kill(-pids[0], 'SIGKILL')
  const healed = await waitFor('18230 replaced', async () => {
    const s = await (await request(`http://127.0.0.1:${second.adminPort}/status`)).body.json() as { backends: Array<{ port: number, state: string, id: string }> }
    const b = s.backends.find((x) => x.port === 18230)
    return b !== undefined && b.state === 'healthy' && b.id !== before[0].id ? b.id : undefined
  }, 20_000, 100)
  pids.push(Number(healed.slice('pid:'.length)))

  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0)
  await waitFor('every child stopped', async () => pids.some(alive) ? undefined : true, 10_000)
  t.same(pids.filter(alive), [], '--cleanup-on-exit stopped adopted and new children alike: no orphan')
})
