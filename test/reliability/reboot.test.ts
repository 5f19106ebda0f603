/**
 * What docs/deployment.md says of a server reboot: the containers stop and stay stopped (restart
 * policy `no`), and the next start removes them and starts fresh ones on the same ports. The
 * engine itself is not restarted (it is shared); its restart policy is what would bring
 * containers back, so the test reads it. Host ports 18770-18779.
 */
import t from 'tap'
import { request } from 'undici'
import { startCli, type RunningCli } from '../helpers/cli'
import { TEST_IMAGE, healthyReplicas, dockerClient, ensureEngineAndImage, removeServiceContainers, serviceContainers, uniqueService, waitFor } from '../helpers/docker'

ensureEngineAndImage()

function healthy (cli: RunningCli, n: number): Promise<Array<{ port: number, id: string }>> {
  return healthyReplicas(cli.adminPort, n, 30_000)
}

t.test('after a reboot (symphony gone, every container stopped) the next start replaces the stopped containers on their ports', async (t) => {
  const service = uniqueService('reboot')
  t.teardown(() => removeServiceContainers(service))
  const docker = dockerClient()
  const args = ['--image', TEST_IMAGE, '--service', service, '--base-port', '18770', '--min-containers', '2', '--fault-interval', '300ms', '--threads', '1']
  const first = await startCli(t, args)
  const before = await healthy(first, 2)
  // The reboot: symphony dies without a drain, the engine stops every container.
  first.child.kill('SIGKILL')
  await first.exited
  await Promise.all(before.map(async (b) => await docker.getContainer(b.id).stop({ t: 1 })))
  for (const b of before) {
    const info = await docker.getContainer(b.id).inspect()
    t.equal(info.HostConfig.RestartPolicy?.Name, 'no', `${info.Name}: restart policy no, so the engine does not bring it back`)
    t.equal(info.State.Running, false, `${info.Name}: stopped`)
  }

  const second = await startCli(t, args)
  const after = await healthy(second, 2)
  t.same(after.map((b) => b.port), [18770, 18771], 'the same ports')
  for (let i = 0; i < 2; i++) t.not(after[i].id, before[i].id, `${after[i].port}: a fresh container`)
  const all = await waitFor('the stopped containers removed', async () => {
    const list = await serviceContainers(service)
    return list.length === 2 ? list : undefined
  }, 10_000, 100)
  t.same(all.map((c) => [c.port, c.running]).sort(), [[18770, true], [18771, true]], 'only the fresh containers are left')
  const res = await request(`http://127.0.0.1:${second.port}/api/v1/hello`)
  t.equal(res.statusCode, 200, 'serving')
  await res.body.dump()
})
