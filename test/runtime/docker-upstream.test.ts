/**
 * The direct path against the real engine and the test image (scripts/build-test-image.sh):
 * which address start() and list() hand to the proxy in each --upstream mode, on the default
 * bridge and on a user network. Host ports 18600-18619; containers and networks are removed by
 * label in teardown. The real fallback (addresses unreachable from where symphony runs) is in
 * upstream-fallback.test.ts.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { request } from 'undici'
import { DockerRuntime, type DockerRuntimeConfig } from '../../src/runtime/docker'
import type { Address } from '../../src/runtime/types'
import { TEST_IMAGE, dockerClient, ensureEngineAndImage, removeServiceContainers, uniqueService, waitFor } from '../helpers/docker'

ensureEngineAndImage()
const docker = dockerClient()

function runtimeFor (t: { teardown: (fn: () => unknown) => void }, service: string, over: Partial<DockerRuntimeConfig> = {}): DockerRuntime {
  const rt = new DockerRuntime({
    image: TEST_IMAGE, service, containerPort: 80, publishHost: '127.0.0.1', env: [], command: null, network: null, memory: 0, cpus: 0, ...over
  })
  t.teardown(() => rt.close())
  return rt
}

async function healthAt (a: Address): Promise<number | undefined> {
  try {
    const res = await request(`http://${a.host}:${a.port}/api/v1/_health`, { headersTimeout: 2000, bodyTimeout: 2000 })
    await res.body.dump()
    return res.statusCode === 200 ? 200 : undefined
  } catch {
    return undefined
  }
}

async function ipOn (id: string, network: string): Promise<string | undefined> {
  return (await docker.getContainer(id).inspect()).NetworkSettings.Networks[network]?.IPAddress
}

t.test('--upstream published: the proxy dials the published host port', async (t) => {
  const service = uniqueService('dp-pub')
  t.teardown(() => removeServiceContainers(service, docker))
  const rt = runtimeFor(t, service, { upstream: 'published' })
  await rt.init()
  const replica = await rt.start(18600)
  t.same(replica.address, { host: '127.0.0.1', port: 18600 })
  t.same(rt.upstream, { mode: 'published', reason: '--upstream published' })
  t.equal(await waitFor('health through the published port', () => healthAt(replica.address)), 200)
  t.match(await rt.list(), [{ id: replica.id, key: 18600, address: { host: '127.0.0.1', port: 18600 } }])
})

t.test('auto on a user network: direct to the address on that network, also for adopted replicas', async (t) => {
  const service = uniqueService('dp-net')
  const network = `symphony-dp-${process.pid}-${randomBytes(3).toString('hex')}`
  await docker.createNetwork({ Name: network, Labels: { 'io.symphony.test': service } })
  t.teardown(async () => {
    await removeServiceContainers(service, docker)
    await docker.getNetwork(network).remove().catch(() => {})
  })
  const rt = runtimeFor(t, service, { network })
  await rt.init()
  t.equal(rt.upstream, null, 'auto decides on the first container address')
  const replica = await rt.start(18601)
  const ip = await ipOn(replica.id, network)
  t.match(ip, /^\d+\.\d+\.\d+\.\d+$/)
  t.same(replica.address, { host: ip, port: 80 })
  t.match(rt.upstream, { mode: 'direct', reason: new RegExp(`${ip?.replace(/\./g, '\\.') ?? ''}:80 reachable`) })
  t.equal(await waitFor('health at the container address', () => healthAt(replica.address)), 200)

  // A later symphony adopts the container: the list alone carries its address, and its own
  // detection (a fresh chooser) reaches the same verdict.
  const again = runtimeFor(t, service, { network })
  const listed = await again.list()
  t.match(listed, [{ id: replica.id, key: 18601, running: true, address: { host: ip, port: 80 } }])
  t.equal(again.upstream?.mode, 'direct')

  // Stopped: no address on the network, so the published port stands in (it is being replaced).
  await docker.getContainer(replica.id).stop({ t: 0 })
  t.match(await again.list(), [{ id: replica.id, running: false, address: { host: '127.0.0.1', port: 18601 } }])
})

t.test('--upstream direct with a container port other than 80', async (t) => {
  const service = uniqueService('dp-dir')
  t.teardown(() => removeServiceContainers(service, docker))
  // The example API listens on $PORT (80 by default).
  const rt = runtimeFor(t, service, { upstream: 'direct', containerPort: 3000, env: ['PORT=3000'] })
  await rt.init()
  t.same(rt.upstream, { mode: 'direct', reason: '--upstream direct' })
  const replica = await rt.start(18602)
  t.same(replica.address, { host: await ipOn(replica.id, 'bridge'), port: 3000 })
  t.equal(await waitFor('health at the container address', () => healthAt(replica.address)), 200)
})
