/**
 * DockerRuntime against the real engine (scripts/docker-engine.sh) and the example API image
 * (scripts/build-test-image.sh). Host ports 18000-18019; every test's containers are removed by
 * label in teardown.
 */
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { request } from 'undici'
import { DockerRuntime, type DockerRuntimeConfig } from '../../src/runtime/docker'
import { DockerUnavailableError, ImageUnavailableError, PortInUseError } from '../../src/errors'
import type { RuntimeEvent } from '../../src/runtime/types'
import {
  TEST_IMAGE, dockerClient, ensureEngineAndImage, nextMatching, removeServiceContainers, uniqueService, waitFor
} from '../helpers/docker'

ensureEngineAndImage()
const docker = dockerClient()

function config (service: string, over: Partial<DockerRuntimeConfig> = {}): DockerRuntimeConfig {
  return {
    image: TEST_IMAGE,
    service,
    containerPort: 80,
    publishHost: '127.0.0.1',
    env: ['GREETING=hi'],
    command: null,
    network: null,
    memory: 0,
    cpus: 0,
    ...over
  }
}

/** The part of a tap test the helpers need. */
interface Teardown { teardown: (fn: () => unknown) => void }

/** A runtime for a fresh service whose containers and streams are cleaned up after the test. */
function runtimeFor (t: Teardown, prefix: string, over: Partial<DockerRuntimeConfig> = {}): DockerRuntime {
  const service = uniqueService(prefix)
  const rt = new DockerRuntime(config(service, over))
  t.teardown(async () => {
    await rt.close()
    await removeServiceContainers(service, docker)
  })
  return rt
}

async function health (port: number): Promise<number> {
  const res = await request(`http://127.0.0.1:${port}/api/v1/_health`, { headersTimeout: 2000, bodyTimeout: 2000 })
  await res.body.dump()
  return res.statusCode
}

t.test('init: a missing image that cannot be pulled is ImageUnavailableError', async (t) => {
  const rt = runtimeFor(t, 'noimg', { image: `symphony-no-such-image-${process.pid}:latest` })
  const err = await rt.init().then(() => null, (e: unknown) => e)
  t.type(err, ImageUnavailableError)
  t.match((err as Error).message, /symphony-no-such-image-\d+:latest/)
  t.equal((err as ImageUnavailableError).exitCode, 4)
})

t.test('init: an engine address with no engine behind it is DockerUnavailableError', async (t) => {
  const rt = new DockerRuntime(config(uniqueService('nosock')), { dockerHost: 'unix:///tmp/symphony-no-such.sock' })
  const err = await rt.init().then(() => null, (e: unknown) => e)
  t.type(err, DockerUnavailableError)
  t.match((err as Error).message, /unix:\/\/\/tmp\/symphony-no-such\.sock/)
  t.match((err as Error).message, /DOCKER_HOST/)
  t.equal((err as DockerUnavailableError).exitCode, 3)
})

t.test('init: DOCKER_HOST in the environment is honoured', async (t) => {
  const saved = process.env.DOCKER_HOST
  process.env.DOCKER_HOST = 'unix:///tmp/symphony-no-such-env.sock'
  t.teardown(() => {
    if (saved === undefined) delete process.env.DOCKER_HOST
    else process.env.DOCKER_HOST = saved
  })
  const rt = new DockerRuntime(config(uniqueService('envsock')))
  t.equal(rt.endpoint, 'unix:///tmp/symphony-no-such-env.sock')
  const err = await rt.init().then(() => null, (e: unknown) => e)
  t.type(err, DockerUnavailableError)
  t.match((err as Error).message, /symphony-no-such-env\.sock/)
})

t.test('start, health, list, kill → exit event, stop twice', async (t) => {
  const port = 18000
  const rt = runtimeFor(t, 'life')
  await rt.init()

  const ac = new AbortController()
  t.teardown(() => ac.abort())
  const events = rt.events(ac.signal)[Symbol.asyncIterator]()
  // The first next() opens the stream; give the engine a moment to register it before the kill.
  const first = nextMatching(events, (e: RuntimeEvent) => e.type === 'exit')

  const replica = await rt.start(port)
  // --upstream auto on this machine: the container's own address on the default bridge.
  const ip = (await docker.getContainer(replica.id).inspect()).NetworkSettings.Networks.bridge?.IPAddress
  t.match(ip, /^\d+\.\d+\.\d+\.\d+$/)
  t.same(replica.address, { host: ip, port: 80 })
  t.equal(rt.upstream?.mode, 'direct')
  t.equal(replica.key, port)
  t.equal(replica.running, true)
  t.equal(await waitFor('health 200', async () => (await health(port)) === 200 ? 200 : undefined), 200)

  const listed = await rt.list()
  t.equal(listed.length, 1)
  t.match(listed[0], { id: replica.id, name: replica.name, key: port, running: true, address: { host: ip, port: 80 } })
  const info = await docker.getContainer(replica.id).inspect()
  t.match(info.Config.Labels, { 'io.symphony.managed': 'true', 'io.symphony.port': String(port) })
  t.ok(info.Config.Env.includes('GREETING=hi'))
  t.equal(info.HostConfig.RestartPolicy?.Name, 'no')

  await new Promise((resolve) => setTimeout(resolve, 500))
  await docker.getContainer(replica.id).kill()
  const exit = await first
  t.match(exit, { type: 'exit', id: replica.id, port, reason: 'kill' })
  t.match(await rt.list(), [{ id: replica.id, running: false }])

  await rt.stop(replica, 1000)
  t.same(await rt.list(), [])
  await t.resolves(rt.stop(replica, 1000), 'a second stop is fine')
})

t.test('start: a port held by another process is PortInUseError and leaves no container', async (t) => {
  const port = 18001
  const rt = runtimeFor(t, 'busy')
  const holder = net.createServer()
  holder.listen(port, '127.0.0.1')
  await once(holder, 'listening')
  t.teardown(() => { holder.close() })

  const err = await rt.start(port).then(() => null, (e: unknown) => e)
  t.type(err, PortInUseError)
  t.match((err as Error).message, /port 18001 is already in use/)
  t.same(await rt.list(), [], 'the created container was removed')
})

t.test('start: a dead leftover with the same name is replaced', async (t) => {
  const port = 18002
  const rt = runtimeFor(t, 'leftover')
  const old = await rt.start(port)
  await docker.getContainer(old.id).kill()
  const fresh = await rt.start(port)
  t.not(fresh.id, old.id)
  t.match(await rt.list(), [{ id: fresh.id, running: true }])
  t.equal(await waitFor('health 200', async () => (await health(port)) === 200 ? 200 : undefined), 200)
  await rt.stop(fresh, 0)
})

t.test('start: command, memory and cpu limits reach the container', async (t) => {
  const port = 18003
  const rt = runtimeFor(t, 'limits', { command: 'server.js  --unused', memory: 64 * 1024 * 1024, cpus: 0.5 })
  const replica = await rt.start(port)
  const info = await docker.getContainer(replica.id).inspect()
  t.same(info.Config.Cmd, ['server.js', '--unused'])
  t.equal(info.HostConfig.Memory, 64 * 1024 * 1024)
  t.equal(info.HostConfig.NanoCpus, 500_000_000)
  t.same(info.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] })
  await rt.stop(replica, 1000)
})

t.test('stop: SIGTERM ends the example API within the grace period', async (t) => {
  const port = 18004
  const rt = runtimeFor(t, 'grace')
  const replica = await rt.start(port)
  await waitFor('health 200', async () => (await health(port)) === 200 ? 200 : undefined)
  const started = Date.now()
  await rt.stop(replica, 10_000)
  t.ok(Date.now() - started < 5000, 'server.js handles SIGTERM instead of waiting for SIGKILL')
  t.same(await rt.list(), [])
})

t.test('events: ends when the signal aborts, without a pending timer', async (t) => {
  const rt = runtimeFor(t, 'abort')
  const ac = new AbortController()
  const it = rt.events(ac.signal)[Symbol.asyncIterator]()
  const pending = it.next()
  await new Promise((resolve) => setTimeout(resolve, 200))
  ac.abort()
  t.same(await pending, { done: true, value: undefined })
})
