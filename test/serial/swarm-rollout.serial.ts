/**
 * Rollouts with --runtime swarm on a real single-node swarm (issue 19, point 5): symphony, as it
 * is deployed (a container on the overlay, the Docker socket mounted), rolls its
 * one-service-per-slot replicas itself with the rollout images of test/rollout/ (no registry:
 * referenced by ID). A good version under load loses no request and leaves every slot on it; a
 * version that never turns healthy is rolled back leaving no service of it; a symphony stopped
 * mid-rollout leaves each slot on one version, and a start with the new --image finishes.
 * Serial: `docker swarm init` changes the engine every other test uses; the swarm is left again
 * only when this file created it.
 */
import t from 'tap'
import { request } from 'undici'
import { dockerClient, ensureEngineAndImage, uniqueService, waitFor } from '../helpers/docker'
import { ADMIN_TOKEN, createOverlay, docker, ensureSwarm, ensureSymphonyImage, removeSwarmServices, runSymphony, type SymphonyContainer } from '../helpers/swarm'
import { SwarmRuntime } from '../../src/runtime/swarm'
import { serviceLabelFilter } from '../../src/runtime/names'
import { LABEL_SLOT } from '../../src/runtime/swarm-spec'
import type { RolloutStatus } from '../../src/rollout/controller'
import type { StatusDoc } from '../fleet/harness'
import { ensureRolloutImages, imageId, loadLoop, NEVER_HEALTHY, V1, V2 } from '../rollout/helpers'

ensureEngineAndImage()
ensureRolloutImages()
ensureSymphonyImage()

const FAST = ['--fault-interval', '300ms', '--drain-timeout', '2s', '--max-containers', '6', '--window', '600s', '--base-scale-count', '1000000']
/** Pulled from a registry address on loopback where nothing listens: refused at once, no traffic out. */
const MISSING = '127.0.0.1:1/symphony-no-such-image:1'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const healthy = (s: StatusDoc): number => s.backends.filter((b) => b.state === 'healthy').length
const imageOf = (b: StatusDoc['backends'][number]): string => (b as unknown as { image: string }).image

async function postRollout (sym: SymphonyContainer, image: string): Promise<{ status: number, body: { rollout?: RolloutStatus, error?: { code: string, message: string } } }> {
  const res = await request(`${sym.admin}/rollout`, { method: 'POST', body: JSON.stringify({ image }), headers: { ...auth, 'content-type': 'application/json' } })
  return { status: res.statusCode, body: await res.body.json() as never }
}

async function rolloutEnd (sym: SymphonyContainer, timeoutMs: number): Promise<RolloutStatus> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const res = await request(`${sym.admin}/rollout`, { headers: auth })
    const r = ((await res.body.json()) as { rollout: RolloutStatus | null }).rollout
    if (r !== null && r.phase !== 'rolling' && r.phase !== 'rolling-back') return r
    if (Date.now() > end) throw new Error(`rollout not ended within ${timeoutMs} ms: ${JSON.stringify(r)}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** Each replica service of `service`: its slot and the image its spec names. */
async function serviceImages (service: string): Promise<Array<{ slot: number, image: string }>> {
  const list = await dockerClient().listServices({ filters: { label: serviceLabelFilter(service) } }) as unknown as Array<{ Spec: { Labels: Record<string, string>, TaskTemplate: { ContainerSpec: { Image: string } } } }>
  return list.map((s) => ({ slot: Number(s.Spec.Labels[LABEL_SLOT]), image: s.Spec.TaskTemplate.ContainerSpec.Image })).sort((a, b) => a.slot - b.slot)
}

/** The image IDs of the running task containers of `service` on this node (not symphony's own, which has no slot). */
async function taskImages (service: string): Promise<string[]> {
  const list = await dockerClient().listContainers({ filters: { label: [...serviceLabelFilter(service), LABEL_SLOT] } })
  return list.map((c) => c.ImageID).sort()
}

const steps = (r: RolloutStatus): string => r.events.map((e) => `${e.at.slice(11)} ${e.step} ${e.message}`).join('\n')

t.test('rollouts on a single-node swarm', async (t) => {
  const created = await ensureSwarm(t)
  t.comment(created ? 'initialised a swarm (left again at the end)' : 'the engine was already a swarm manager (left as it is)')
  const network = uniqueService('rollnet')
  await createOverlay(t, network, V1)
  const [v1, v2, bad] = [await imageId(V1), await imageId(V2), await imageId(NEVER_HEALTHY)]

  t.test('the runtime alone: a replica of a given image, each replica\'s image listed, an image that cannot be had refused', async (t) => {
    const service = uniqueService('swrollrt')
    t.teardown(() => removeSwarmServices(service))
    const rt = new SwarmRuntime({ service, containerPort: 80, env: [], command: null, memory: 0, cpus: 0, constraints: [], placementPrefs: [], basePort: 8000, image: V1, network }, { requireAttached: false, startWaitMs: 60_000 })
    t.teardown(() => rt.close())
    await rt.init()
    t.equal(await rt.resolveImage(V1), v1, '--image: its ID, as init() pinned it')
    t.equal(await rt.resolveImage(V2), v2, 'another image on the manager: its ID')
    await t.rejects(rt.resolveImage(MISSING), { name: 'ImageUnavailableError', message: /^image 127\.0\.0\.1:1\/symphony-no-such-image:1 is not on this Swarm manager and could not be pulled \(.*\): load it on the manager/ })
    const a = await rt.start(8000)
    const b = await rt.start(8001, v2)
    t.same([a.image, b.image], [v1, v2], 'start() says which image each runs')
    t.same((await rt.list()).map((r) => [r.key, r.image]).sort(), [[8000, v1], [8001, v2]], 'list() reads it from each service\'s spec')
    t.same((await serviceImages(service)).map((x) => x.image), [v1, v2])

    // --image's tag rebuilt on the manager after the start (retagged here): a new version.
    const tag = `symphony-rollout-api:${service}`
    await docker(['tag', V1, tag])
    t.teardown(() => docker(['rmi', tag]).catch(() => {}))
    const tagged = new SwarmRuntime({ service, containerPort: 80, env: [], command: null, memory: 0, cpus: 0, constraints: [], placementPrefs: [], basePort: 8000, image: tag, network }, { requireAttached: false })
    t.teardown(() => tagged.close())
    await tagged.init()
    t.equal(await tagged.resolveImage(tag), v1)
    await docker(['tag', V2, tag])
    t.equal(await tagged.resolveImage(tag), v2, 'the tag moved: its new ID')
  })

  t.test('a good version rolls slot by slot under load with no failed request; every slot runs it after', async (t) => {
    const service = uniqueService('swroll')
    const sym = await runSymphony(t, { service, network, args: ['--image', V1, '--min-containers', '3', ...FAST] })
    const s = await sym.waitForStatus('three healthy v1 replicas', (x) => healthy(x) === 3, 60_000)
    t.same(s.backends.map(imageOf), [v1, v1, v1], '/status: each replica\'s image, by ID')
    t.same((await serviceImages(service)).map((x) => x.image), [v1, v1, v1], 'the services\' specs name v1 by ID')

    const loop = loadLoop(sym.url, 4, 180_000)
    const from = Date.now()
    const begun = await postRollout(sym, V2)
    t.equal(begun.status, 202, `POST /rollout: 202 ${JSON.stringify(begun.body.error ?? '')}`)
    t.match(begun.body.rollout, { image: V2, imageId: v2, previousId: v1, phase: 'rolling', origin: 'deploy' })
    const end = await rolloutEnd(sym, 150_000)
    const ms = Date.now() - from
    const loaded = await loop.stop()
    t.comment(steps(end))
    t.equal(end.phase, 'succeeded', `succeeded in ${ms} ms`)
    t.same(loaded.failed, [], `no failed request of ${loaded.total}`)
    t.ok(loaded.total > 50, `load went on during the rollout (${loaded.total} requests)`)
    t.same(end.events.map((e) => e.step).filter((x) => x !== 'drained'),
      ['begin', 'started', 'healthy', 'draining', 'started', 'healthy', 'draining', 'started', 'healthy', 'draining', 'succeeded'], 'slot by slot')
    const after = await sym.status()
    t.ok(after.backends.length === 3 && after.backends.every((b) => imageOf(b) === v2 && b.state === 'healthy'), 'three replicas serve v2')
    t.same((await serviceImages(service)).map((x) => x.image), [v2, v2, v2], 'every slot\'s service names v2; no v1 service left')
    const services = await docker(['service', 'ls', '--filter', `label=io.symphony.service=${service}`, '--format', '{{.Name}} {{.Replicas}}'])
    t.equal(services.split('\n').length, 3, `one service per slot, one task each:\n${services}`)
    // Swarm's own rolling update never ran: each service is at its first version, with no previous spec.
    const inspected = await Promise.all((await dockerClient().listServices({ filters: { label: serviceLabelFilter(service) } })).map(async (x) => await dockerClient().getService(x.ID as string).inspect() as { Version: { Index: number }, PreviousSpec?: unknown, UpdateStatus?: unknown }))
    t.ok(inspected.every((x) => x.PreviousSpec === undefined && x.UpdateStatus === undefined), 'no service was updated by Swarm (no update_config rollout)')
    const metrics = await (await request(`${sym.admin}/metrics`, { headers: auth })).body.text()
    t.match(metrics, /symphony_rollouts_total\{outcome="succeeded"\} 1/)
  })

  t.test('a version that never turns healthy is rolled back at the deadline; no service of it stays', async (t) => {
    const service = uniqueService('swrollnh')
    const sym = await runSymphony(t, { service, network, args: ['--image', V1, '--min-containers', '2', '--rollout-deadline', '8s', ...FAST] })
    await sym.waitForStatus('two healthy v1 replicas', (x) => healthy(x) === 2, 60_000)
    const loop = loadLoop(sym.url, 2, 120_000)
    t.equal((await postRollout(sym, NEVER_HEALTHY)).status, 202)
    const end = await rolloutEnd(sym, 90_000)
    const loaded = await loop.stop()
    t.comment(steps(end))
    t.equal(end.phase, 'rolled-back')
    t.match(end.reason, /not healthy within 8000 ms/)
    t.same(loaded.failed, [], `no failed request of ${loaded.total}: the bad replica never took traffic`)
    const images = await serviceImages(service)
    t.notOk(images.some((x) => x.image === bad), `no service of the bad version: ${JSON.stringify(images)}`)
    t.same(images.map((x) => x.image), [v1, v1], 'v1 on every slot')
    const s = await sym.status()
    t.ok(s.backends.every((b) => imageOf(b) === v1), '/status: v1 everywhere')
    const metrics = await (await request(`${sym.admin}/metrics`, { headers: auth })).body.text()
    t.match(metrics, /symphony_rollouts_total\{outcome="rolled-back"\} 1/)
  })

  t.test('stopped mid-rollout, each slot holds one version; a start with the new --image adopts them and finishes', async (t) => {
    const service = uniqueService('swrollmid')
    const args = ['--min-containers', '3', ...FAST]
    const first = await runSymphony(t, { service, network, args: ['--image', V1, '--rollout-pace', '600s', ...args] })
    await first.waitForStatus('three healthy v1 replicas', (x) => healthy(x) === 3, 60_000)
    t.equal((await postRollout(first, V2)).status, 202)
    // The pace holds the rollout after its first step: one v2 serving, two v1.
    await first.waitForStatus('one v2 replica serving, two v1', (x) => x.backends.filter((b) => b.state === 'healthy' && imageOf(b) === v2).length === 1 && x.backends.length === 3, 60_000)
    await docker(['stop', '-t', '30', first.name])
    const logs = await first.logs()
    t.ok(logs.some((l) => l.event === 'rollout-end' && l.outcome === 'stopped'), 'the rollout ended as stopped')
    await docker(['rm', first.name])
    const mixed = await serviceImages(service)
    t.equal(new Set(mixed.map((x) => x.slot)).size, mixed.length, 'one service per slot')
    t.same(mixed.map((x) => x.image).sort(), [v1, v1, v2].sort(), `each slot on one version, the fleet mixed: ${JSON.stringify(mixed)}`)
    const ids = (await dockerClient().listServices({ filters: { label: serviceLabelFilter(service) } })).map((x) => x.ID as string).sort()

    const sym = await runSymphony(t, { service, network, args: ['--image', V2, ...args] })
    const loop = loadLoop(sym.url, 2, 150_000)
    const end = await rolloutEnd(sym, 120_000)
    const loaded = await loop.stop()
    t.comment(steps(end))
    t.match(end, { origin: 'restart', image: V2, imageId: v2, previousId: v1, phase: 'succeeded' })
    const adopted = (await sym.logs()).filter((l) => l.event === 'adopt').map((l) => l.id as string).sort()
    t.same(adopted, ids, 'the running services were adopted, not replaced')
    t.same(loaded.failed, [], `no failed request of ${loaded.total} from the start to the end`)
    t.same((await serviceImages(service)).map((x) => x.image), [v2, v2, v2], 'every slot runs v2: not a mixed fleet')
    // The removed services' task containers stop within their grace period.
    await waitFor('only v2 task containers running', async () => (await taskImages(service)).every((i) => i === v2) ? true : undefined, 30_000, 500)
    t.same(await taskImages(service), [v2, v2, v2], 'every task container runs the v2 image ID')
  })
})
