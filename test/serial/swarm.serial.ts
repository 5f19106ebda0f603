/**
 * --runtime swarm on a real single-node swarm (issue 13): the docker runtime's scenarios, with
 * symphony running as it is deployed, a container on the overlay with the Docker socket mounted.
 * Serial: `docker swarm init` changes the engine every other test uses; the swarm is left again
 * only when this file created it. Also the runtime's own checks: what it refuses, and what the
 * services it creates look like.
 */
import t from 'tap'
import { hostname } from 'node:os'
import { SwarmRuntime } from '../../src/runtime/swarm'
import { SwarmSetupError } from '../../src/errors'
import { TEST_IMAGE, dockerClient, ensureEngineAndImage, uniqueService } from '../helpers/docker'
import { sleep } from '../helpers/gateway'
import {
  createOverlay, docker, ensureSwarm, ensureSymphonyImage, failures, hit, loadLoop, removeSwarmServices, runSymphony, swarmReplicas
} from '../helpers/swarm'
import type { StatusDoc } from '../fleet/harness'

ensureEngineAndImage()
ensureSymphonyImage()

const BASE = ['--image', TEST_IMAGE, '--drain-timeout', '3s']
const FAST = [...BASE, '--fault-interval', '300ms']
const healthy = (s: StatusDoc): StatusDoc['backends'] => s.backends.filter((b) => b.state === 'healthy')

t.test('single-node swarm', async (t) => {
  const created = await ensureSwarm(t)
  t.comment(created ? 'initialised a swarm (left again at the end)' : 'the engine was already a swarm manager (left as it is)')
  const network = uniqueService('swarmnet')
  await createOverlay(t, network, TEST_IMAGE)
  const nodeName = await docker(['info', '-f', '{{.Name}}'])

  t.test('the runtime refuses what cannot work, with one-line reasons', async (t) => {
    const base = { service: uniqueService('refuse'), containerPort: 80, env: [], command: null, memory: 0, cpus: 0, constraints: [], placementPrefs: [], basePort: 8000, image: TEST_IMAGE }
    // This test process runs on the host, not on the overlay.
    await t.rejects(new SwarmRuntime({ ...base, network }).init(), { name: 'SwarmSetupError', message: new RegExp(`^symphony is not attached to --network ${network} \\(10\\.`) })
    await t.rejects(new SwarmRuntime({ ...base, network: 'bridge' }).init(), { name: 'SwarmSetupError', message: /^--network bridge is a bridge network \(scope local\); --runtime swarm needs an overlay/ })
    await t.rejects(new SwarmRuntime({ ...base, network: `${network}-absent` }).init(), SwarmSetupError)
  })

  t.test('the runtime alone: a slot\'s service, its task\'s overlay address and node, a failing start cleaned up', async (t) => {
    const service = uniqueService('rt')
    t.teardown(() => removeSwarmServices(service))
    const rt = new SwarmRuntime({ service, containerPort: 80, env: ['X=1'], command: null, memory: 0, cpus: 0, constraints: ['node.role==manager'], placementPrefs: [], basePort: 8000, image: TEST_IMAGE, network }, { requireAttached: false, startWaitMs: 20_000 })
    t.teardown(() => rt.close())
    await rt.init()
    t.match(rt.image, /^sha256:[0-9a-f]{64}$/, 'a local image without a registry digest is referenced by id')
    const r = await rt.start(8002)
    t.match(r, { name: `${service}-2`, key: 8002, address: { port: 80 }, running: true, node: nodeName })
    t.match(r.address.host, /^10\.\d+\.\d+\.\d+$/, 'dialled at its overlay address')
    const spec = await dockerClient().getService(r.id).inspect() as { Spec: Record<string, any>, Endpoint: { Ports?: unknown[] } }
    t.match(spec.Spec, { Mode: { Replicated: { Replicas: 1 } }, EndpointSpec: { Mode: 'dnsrr' }, TaskTemplate: { RestartPolicy: { Condition: 'none' }, Placement: { Constraints: ['node.role==manager'] } } })
    t.notOk(spec.Endpoint.Ports?.length, 'nothing published on any node')
    // The address is right: a container on the overlay reaches the replica there.
    const reply = await docker(['run', '--rm', '--network', network, '--entrypoint', 'node', TEST_IMAGE, '-e',
      `fetch('http://${r.address.host}/api/v1/hello').then(r => r.text()).then(console.log)`])
    t.match(reply, /"hello":"world"/, 'the replica answers at its overlay address')
    t.same((await rt.list()).map((x) => [x.id, x.key, x.address.host, x.running]), [[r.id, 8002, r.address.host, true]])
    await rt.stop(r, 0)
    t.same(await rt.list(), [], 'stop removes the service')
    // A constraint no node satisfies: the task stays pending; start() gives up and removes it.
    const stuck = new SwarmRuntime({ service, containerPort: 80, env: [], command: null, memory: 0, cpus: 0, constraints: ['node.labels.nowhere==true'], placementPrefs: [], basePort: 8000, image: TEST_IMAGE, network }, { requireAttached: false, startWaitMs: 3000 })
    t.teardown(() => stuck.close())
    await stuck.init()
    await t.rejects(stuck.start(8000), { name: 'StartError', message: /not running after 3000 ms \(task pending: no suitable node/ })
    t.same(await rt.list(), [], 'the failed start left no service behind')
  })

  t.test('start: one replica, /status names its node; it serves', async (t) => {
    const service = uniqueService('sstart')
    const sym = await runSymphony(t, { service, network, args: FAST })
    const s = await sym.waitForStatus('one healthy replica', (x) => healthy(x).length === 1)
    t.match(s, { mode: 'swarm', backends: [{ slot: 0, port: 80, state: 'healthy', name: `${service}-0`, node: nodeName, phase: 'ready' }] })
    t.match(s.backends[0], { host: /^10\./ })
    t.equal(await hit(sym.url), 200)
    t.same((await swarmReplicas(service)).map((r) => [r.service, r.state]), [[`${service}-0`, 'running']])
    t.ok(hostname() !== '' && nodeName !== '', `node ${nodeName}`)
  })

  t.test('scale up under load to the formula\'s count; down after a quiet window with 0 failed requests', async (t) => {
    const service = uniqueService('sscale')
    // A 10 s window: the burst keeps 3 wanted for 10 s, and scale-down waits a whole window more,
    // room enough for two Swarm services to start on a loaded machine.
    const sym = await runSymphony(t, { service, network, args: [...FAST, '--window', '10s', '--base-scale-count', '5', '--max-containers', '6'] })
    await sym.waitForStatus('one healthy replica', (x) => healthy(x).length === 1)
    // 14 requests in the window: desired = 1 + floor(14 / 5) = 3. The window already holds the
    // request runSymphony sent to see the gateway answer, so the burst makes up the rest.
    await sleep(1100) // the autoscaler's 1 s tick has counted it by then
    const already = (await sym.status()).autoscaler.window.count
    const burst = await Promise.all(Array.from({ length: 14 - already }, async () => await hit(sym.url)))
    t.same(burst, new Array(14 - already).fill(200))
    const s = await sym.waitForStatus('three healthy replicas', (x) => healthy(x).length === 3, 30_000)
    t.same(healthy(s).map((b) => b.slot).sort(), [0, 1, 2])
    t.match(s.autoscaler, { desired: 3, current: 3 })
    await sleep(1500)
    t.equal((await swarmReplicas(service)).length, 3, 'exactly the formula\'s count of services: no over-start')
    // A trickle below the threshold (about 4 per 10 s window): desired 1, and nothing fails while
    // the two extra replicas are drained and removed.
    const trickle = loadLoop(sym.url, { concurrency: 1, gapMs: 2500, maxMs: 60_000 })
    await sym.waitForStatus('back to one replica', (x) => x.backends.length === 1, 60_000)
    await sleep(1000)
    const results = await trickle.stop()
    t.equal(failures(results), 0, `no failed request while scaling down (${JSON.stringify(Object.fromEntries(results))})`)
    t.same((await swarmReplicas(service)).map((r) => r.service), [`${service}-0`], 'the highest slots left; their services are gone')
    const logs = await sym.logs()
    const up = logs.find((l) => l.event === 'scale' && l.direction === 'up' && l.add === 2)
    const ready = logs.filter((l) => l.msg === 'replica healthy; in rotation' && (l.port === 8001 || l.port === 8002))
    if (up !== undefined && ready.length === 2) {
      const ms = Math.max(...ready.map((l) => Date.parse(l.time as string))) - Date.parse(up.time as string)
      t.comment(`figure: threshold crossed to both new replicas serving: ${ms} ms`)
    }
  })

  t.test('an unhealthy replica is replaced, and only that one', async (t) => {
    const service = uniqueService('sheal')
    const sym = await runSymphony(t, { service, network, args: [...FAST, '--min-containers', '2'] })
    const before = await sym.waitForStatus('two healthy', (x) => healthy(x).length === 2)
    const [keep, victim] = [...before.backends].sort((a, b) => a.slot - b.slot)
    await sym.exec(`fetch('http://${(victim as unknown as { host: string }).host}/admin/health/fail', { method: 'POST' }).then((r) => process.exit(r.status === 200 ? 0 : 1))`)
    const failedAt = Date.now()
    const after = await sym.waitForStatus('a healthy replacement in slot 1', (x) => x.backends.some((b) => b.slot === 1 && b.state === 'healthy' && b.id !== victim.id), 30_000)
    t.comment(`figure: replica failing to its replacement serving: ${Date.now() - failedAt} ms (fault interval 300 ms)`)
    t.equal(after.backends.find((b) => b.slot === 0)?.id, keep.id, 'the healthy neighbour was left alone')
    const services = await swarmReplicas(service)
    t.same(services.map((r) => r.service), [`${service}-0`, `${service}-1`], 'two services, no duplicate')
    t.notOk(services.some((r) => r.id === victim.id), 'the unhealthy one\'s service was removed')
    t.match((await sym.logs()).filter((l) => l.event === 'replica-failed'), [{ reason: 'health-status', status: 500, id: victim.id }])
  })

  t.test('a killed task is replaced', async (t) => {
    const service = uniqueService('skill')
    const sym = await runSymphony(t, { service, network, args: [...BASE, '--min-containers', '2', '--fault-interval', '2s'] })
    const before = await sym.waitForStatus('two healthy', (x) => healthy(x).length === 2)
    const victim = before.backends.find((b) => b.slot === 1)
    if (victim?.id == null) throw new Error('no replica in slot 1')
    const container = await docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.id=${victim.id}`])
    t.match(container, /^[0-9a-f]+$/, 'its task\'s container')
    await docker(['kill', container])
    const killedAt = Date.now()
    await sym.waitForStatus('a healthy replacement in slot 1', (x) => x.backends.some((b) => b.slot === 1 && b.state === 'healthy' && b.id !== victim.id), 30_000)
    t.comment(`killed task replaced and serving in ${Date.now() - killedAt} ms`)
    // With a 2 s fault interval, the 1 s poll of tasks usually sees the exit before a probe does.
    t.match((await sym.logs()).filter((l) => l.event === 'replica-failed'), [{ reason: /^(exit-kill|exit-die|health-(refused|timeout))$/, id: victim.id }])
    t.equal((await swarmReplicas(service)).length, 2)
  })

  t.test('a restarted symphony adopts its replicas', async (t) => {
    const service = uniqueService('sadopt')
    const sym = await runSymphony(t, { service, network, args: [...FAST, '--min-containers', '2'] })
    const before = await sym.waitForStatus('two healthy', (x) => healthy(x).length === 2)
    await sym.restart()
    const after = await sym.waitForStatus('two healthy after the restart', (x) => healthy(x).length === 2)
    t.same(after.backends.map((b) => b.id).sort(), before.backends.map((b) => b.id).sort(), 'the same replicas, not new ones')
    t.match(after.counters, { adopted: 2 })
    t.equal((await swarmReplicas(service)).length, 2)
    t.equal(await hit(sym.url), 200)
  })
})
