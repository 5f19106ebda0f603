/**
 * symphony's own image runs the single-host docker runtime too, the way Traefik is commonly run:
 * `docker run` with the Docker socket mounted. The image is the registry-free build of
 * scripts/build-symphony-image.sh (Node 24 on Debian 13; the Dockerfile at the root builds the same
 * from node:24-trixie-slim where a registry can be reached). Its point (issue #18) is that the
 * native uWebSockets.js build runs inside on any host with Docker, whatever the host's glibc.
 */
import t from 'tap'
import { TEST_IMAGE, ensureEngineAndImage, removeServiceContainers, serviceContainers, uniqueService, waitFor } from '../helpers/docker'
import { SYMPHONY_IMAGE, docker, ensureSymphonyImage, hit } from '../helpers/swarm'

ensureEngineAndImage()
ensureSymphonyImage()

t.test('docker run with the socket mounted: symphony in a container scales, proxies and cleans up its replicas', async (t) => {
  const service = uniqueService('img')
  const name = `symphony-test-${service}`
  t.teardown(async () => {
    await docker(['rm', '-f', name]).catch(() => {})
    await removeServiceContainers(service)
  })
  await docker([
    // --stop-timeout as docs/deployment.md gives it: longer than the 30 s --drain-timeout.
    'run', '-d', '--name', name, '--label', 'io.symphony.managed=true', '--stop-timeout', '45',
    '-v', '/var/run/docker.sock:/var/run/docker.sock', '-p', '127.0.0.1::8080',
    SYMPHONY_IMAGE, '--image', TEST_IMAGE, '--service', service, '--base-port', '18720', '--max-containers', '2', '--cleanup-on-exit'
  ])
  const url = `http://${(await docker(['port', name, '8080/tcp'])).split('\n')[0]}`
  t.equal(await waitFor('the gateway answers 200', async () => await hit(url) === 200 ? 200 : undefined, 30_000, 200), 200)
  const logs = async (): Promise<Array<Record<string, unknown>>> => (await docker(['logs', name])).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
  t.match((await logs()).find((l) => l.event === 'upstream'), { mode: 'direct' }, 'from its container it reaches the replicas at their own addresses')
  // A native build maps its binary (uws_<platform>_<arch>_<ABI>.node); the JS fallback maps none.
  const [node, abi] = (await docker(['exec', name, 'node', '-p', 'process.version + " " + process.versions.modules'])).split(' ')
  t.match(node, /^v24\./, 'Node 24 in the image')
  t.equal((await docker(['exec', name, 'grep', '-o', '-m', '1', 'uws_linux_x64_[0-9]*\\.node', '/proc/1/maps'])), `uws_linux_x64_${abi ?? ''}.node`,
    'symphony (PID 1) runs the native uWebSockets.js binary for its Node ABI')
  t.match(await docker(['run', '--rm', '--label', 'io.symphony.managed=true', SYMPHONY_IMAGE, '--version']), /Node v24\.\d+\.\d+, uWebSockets\.js 20\.57\.0 \(native\)/,
    '--version names Node 24 and the 20.57 build')
  t.same((await serviceContainers(service)).map((c) => [c.port, c.running]), [[18720, true]], 'one replica, published on its host port')
  const stopAt = Date.now()
  await docker(['stop', name]) // SIGTERM, then SIGKILL after the container's own --stop-timeout
  const stopMs = Date.now() - stopAt
  const lines = await logs()
  // On failure, the message shows how long the stop took (45 s: it was SIGKILLed) and the last lines.
  t.ok(lines.some((l) => l.msg === 'stopped'), `drained and stopped on SIGTERM (in ${stopMs} ms)`, { last: lines.slice(-8) })
  // Nothing was in flight, so the drain ends at once: waiting out --drain-timeout would mean a
  // request counted in flight that never finished.
  t.notOk(lines.some((l) => l.msg === 'drain timeout reached; closing remaining connections'), 'the drain did not wait for its timeout', { last: lines.slice(-8) })
  t.same(await serviceContainers(service), [], '--cleanup-on-exit removed the replica')
})
