/**
 * Rollouts on the real engine with real images of the example API (issue 19): a good version
 * rolls replica by replica under load without a failed request; a version that never turns
 * healthy and one that answers 500 are rolled back, leaving no container of theirs. Host ports
 * 18840-18869.
 */
import t from 'tap'
import { containerImages, ensureRolloutImages, imageId, loadLoop, postRollout, rolloutEnd, ANSWERS_500, NEVER_HEALTHY, V1, V2 } from './helpers'
import { uniqueService } from '../helpers/docker'
import { getStatus, startFleet, waitForStatus, healthyPorts } from '../fleet/harness'

ensureRolloutImages()

const FAST = ['--fault-interval', '300ms', '--drain-timeout', '2s', '--min-containers', '3', '--max-containers', '6', '--window', '600s', '--base-scale-count', '1000000']

t.test('a good version rolls replica by replica under load with no failed request; /status shows images', async (t) => {
  const service = uniqueService('roll')
  const [v1, v2] = [await imageId(V1), await imageId(V2)]
  const gw = await startFleet(t, service, ['--image', V1, '--base-port', '18840', ...FAST])
  let s = await waitForStatus(gw, 'three healthy v1 replicas', (x) => healthyPorts(x).length === 3)
  t.same(s.backends.map((b) => [(b as unknown as { image: string }).image, (b as unknown as { current: boolean }).current]), [[v1, true], [v1, true], [v1, true]], '/status: each replica\'s image ID, current')

  const loop = loadLoop(gw.url, 4, 60_000)
  const from = Date.now()
  const begun = await postRollout(gw, V2)
  t.equal(begun.status, 202, 'POST /rollout: 202')
  t.match(begun.body.rollout, { image: V2, imageId: v2, previousId: v1, phase: 'rolling', origin: 'deploy' })
  const end = await rolloutEnd(gw, 60_000)
  const ms = Date.now() - from
  const loaded = await loop.stop()
  t.equal(end.phase, 'succeeded', `succeeded in ${ms} ms`)
  t.comment(end.events.map((e) => `${e.at.slice(11)} ${e.step} ${e.message}`).join('\n'))
  t.same(loaded.failed, [], `no failed request of ${loaded.total}`)
  t.ok(loaded.total > 50, `load went on during the rollout (${loaded.total} requests)`)
  // One at a time (surge 1): started, healthy, then one old drained, three times.
  const steps = end.events.map((e) => e.step).filter((x) => x !== 'drained')
  t.same(steps, ['begin', 'started', 'healthy', 'draining', 'started', 'healthy', 'draining', 'started', 'healthy', 'draining', 'succeeded'], 'replica by replica')
  s = await getStatus(gw)
  t.equal(s.backends.length, 3)
  t.ok(s.backends.every((b) => (b as unknown as { image: string }).image === v2 && b.state === 'healthy'), 'every replica serves v2')
  const left = await containerImages(service)
  t.same(left.map((c) => c.image), [v2, v2, v2], 'no v1 container left')
  const metrics = await (await fetch(`${gw.admin}/metrics`)).text()
  t.match(metrics, /symphony_rollouts_total\{outcome="succeeded"\} 1/)
})

t.test('a version that never turns healthy is rolled back at the deadline; none of its containers stays', async (t) => {
  const service = uniqueService('rollnh')
  const v1 = await imageId(V1)
  const bad = await imageId(NEVER_HEALTHY)
  const gw = await startFleet(t, service, ['--image', V1, '--base-port', '18850', '--rollout-deadline', '3s', ...FAST])
  await waitForStatus(gw, 'three healthy v1 replicas', (x) => healthyPorts(x).length === 3)
  const loop = loadLoop(gw.url, 2, 60_000)
  t.equal((await postRollout(gw, NEVER_HEALTHY)).status, 202)
  const end = await rolloutEnd(gw, 60_000)
  const loaded = await loop.stop()
  t.equal(end.phase, 'rolled-back')
  t.match(end.reason, /not healthy within 3000 ms/)
  t.same(loaded.failed, [], `no failed request of ${loaded.total}: the bad replica never took traffic`)
  const left = await containerImages(service)
  t.notOk(left.some((c) => c.image === bad), 'no container of the bad version')
  t.same(left.map((c) => c.image), [v1, v1, v1], 'three v1 replicas')
  const metrics = await (await fetch(`${gw.admin}/metrics`)).text()
  t.match(metrics, /symphony_rollouts_total\{outcome="rolled-back"\} 1/)
})

t.test('a healthy version answering 500 is rolled back within 10 s of taking traffic; its 500s to GETs are retried on v1, to POSTs not', async (t) => {
  const service = uniqueService('roll500')
  const v1 = await imageId(V1)
  const bad = await imageId(ANSWERS_500)
  const gw = await startFleet(t, service, ['--image', V1, '--base-port', '18860', ...FAST])
  await waitForStatus(gw, 'three healthy v1 replicas', (x) => healthyPorts(x).length === 3)
  const gets = loadLoop(gw.url, 4, 60_000)
  // v1 has no POST /api/v1/hello (404); the bad version answers every route but its health check
  // 500. Two POST clients beside four GET ones: the bad replica takes traffic for a few hundred
  // ms only, and some POSTs must meet it (test/worker/trial-retry.test.ts shows the same
  // deterministically).
  const posts = loadLoop(gw.url, 2, 60_000, 'POST', 404)
  t.equal((await postRollout(gw, ANSWERS_500)).status, 202)
  const end = await rolloutEnd(gw, 60_000)
  const [loaded, posted] = [await gets.stop(), await posts.stop()]
  t.equal(end.phase, 'rolled-back', 'the rollback still fires: the discarded 500s count against the new version')
  t.match(end.reason, /new version failed/)
  const traffic = Date.parse(end.events.find((e) => e.step === 'healthy')?.at ?? '')
  const back = Date.parse(end.events.find((e) => e.step === 'rollback')?.at ?? '')
  t.ok(back - traffic < 10_000, `rollback began ${back - traffic} ms after the first bad replica took traffic`)
  t.comment(end.events.map((e) => `${e.at.slice(11)} ${e.step} ${e.message}`).join('\n'))
  t.same(loaded.failed, [], `no failed GET of ${loaded.total}: each 500 of the bad version was retried on a v1 replica`)
  t.ok(loaded.total > 50, `load went on during the rollout (${loaded.total} GETs)`)
  const post500 = posted.failed.filter((f) => f.status === 500).length
  t.ok(post500 > 0, `POST is not idempotent: its 500s reached the client (${post500} of ${posted.total})`)
  t.equal(posted.failed.length, post500, 'the POSTs answered anything else than 404 were the bad version\'s 500s')
  const metrics = await (await fetch(`${gw.admin}/metrics`)).text()
  const retried = Number(/^symphony_rollout_retries_total (\d+)/m.exec(metrics)?.[1])
  t.ok(retried > 0, `symphony_rollout_retries_total counts the retries (${retried})`)
  const left = await containerImages(service)
  t.notOk(left.some((c) => c.image === bad), 'no container of the bad version')
  t.ok(left.length >= 3 && left.every((c) => c.image === v1), 'v1 on every slot')
})
