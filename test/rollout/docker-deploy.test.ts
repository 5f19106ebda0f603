/**
 * `symphony deploy` and what surrounds a rollout, on the real engine: a restart with another
 * --image adopts the running replicas and rolls them; a deploy while another runs, of an image
 * that cannot be had, or to fixed backends is refused with nothing changed; the command prints
 * its steps and ends with the documented exit codes. Host ports 18870-18899.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { containerImages, ensureRolloutImages, imageId, loadLoop, postRollout, rolloutEnd, NEVER_HEALTHY, V1, V2 } from './helpers'
import { uniqueService } from '../helpers/docker'
import { startTestGateway } from '../helpers/gateway'
import { getStatus, healthyPorts, logEvents, startFleet, waitForStatus } from '../fleet/harness'

ensureRolloutImages()

const BIN = path.join(__dirname, '..', '..', '..', 'bin', 'symphony.js')
const FAST = ['--fault-interval', '300ms', '--drain-timeout', '2s', '--max-containers', '6', '--window', '600s', '--base-scale-count', '1000000']
/** Pulled from a registry address on loopback where nothing listens: refused at once, no traffic out. */
const MISSING = '127.0.0.1:1/symphony-no-such-image:1'

/** Run `symphony deploy …`; its exit code, stdout lines and stderr. */
function deployCli (args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null, lines: string[], stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'deploy', ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => { out += d })
  child.stderr.on('data', (d) => { err += d })
  const kill = setTimeout(() => child.kill('SIGKILL'), 120_000)
  return new Promise((resolve) => child.once('exit', (code) => {
    clearTimeout(kill)
    resolve({ code, lines: out.split('\n').filter((l) => l !== ''), stderr: err })
  }))
}

t.test('a restart with another --image adopts the running replicas, then rolls them, serving throughout', async (t) => {
  const service = uniqueService('restart')
  const [v1, v2] = [await imageId(V1), await imageId(V2)]
  const args = ['--base-port', '18870', '--min-containers', '3', ...FAST]
  const first = await startFleet(t, service, ['--image', V1, ...args])
  await waitForStatus(first, 'three healthy v1 replicas', (x) => healthyPorts(x).length === 3)
  const before = (await getStatus(first)).backends.map((b) => b.id)
  await first.stop()

  const gw = await startFleet(t, service, ['--image', V2, ...args])
  const loop = loadLoop(gw.url, 2, 60_000)
  t.same(logEvents(gw, 'adopt').map((l) => l.id).sort(), [...before].sort(), 'the v1 replicas were adopted, not replaced')
  t.match((await getStatus(gw)).counters, { adopted: 3 })
  const end = await rolloutEnd(gw, 60_000)
  const loaded = await loop.stop()
  t.match(end, { origin: 'restart', image: V2, imageId: v2, previousId: v1, phase: 'succeeded' })
  t.same(loaded.failed, [], `no failed request of ${loaded.total} from the restart to the end`)
  t.same((await containerImages(service)).map((c) => c.image), [v2, v2, v2], 'every replica runs v2: not a mixed fleet')
})

t.test('stopped mid-rollout, every slot holds one version; the next start with the new --image finishes it', async (t) => {
  const service = uniqueService('midway')
  const [v1, v2] = [await imageId(V1), await imageId(V2)]
  const args = ['--base-port', '18895', '--min-containers', '3', ...FAST]
  const first = await startFleet(t, service, ['--image', V1, '--rollout-pace', '60s', ...args])
  await waitForStatus(first, 'three healthy v1 replicas', (x) => healthyPorts(x).length === 3)
  t.equal((await postRollout(first, V2)).status, 202)
  // The pace holds the rollout after its first step: one v2 serving, two v1.
  await waitForStatus(first, 'one v2 replica serving', (x) => x.backends.filter((b) => b.state === 'healthy' && (b as unknown as { image: string }).image === v2).length === 1, 30_000)
  await first.stop()
  t.equal(first.rollouts?.status()?.phase, 'stopped', 'the rollout ended as stopped')
  const left = (await containerImages(service)).filter((c) => c.running)
  t.equal(new Set(left.map((c) => c.port)).size, left.length, 'one container per slot')
  t.ok(left.some((c) => c.image === v1) && left.some((c) => c.image === v2), 'a mixed fleet, each slot on one version')

  const gw = await startFleet(t, service, ['--image', V2, ...args])
  const end = await rolloutEnd(gw, 60_000)
  t.match(end, { origin: 'restart', imageId: v2, phase: 'succeeded' })
  const after = await containerImages(service)
  t.ok(after.length >= 3 && after.every((c) => c.image === v2), 'finished: every replica runs v2')
})

t.test('refusals change nothing: another rollout runs; the image cannot be had', async (t) => {
  const service = uniqueService('refuse')
  const gw = await startFleet(t, service, ['--image', V1, '--base-port', '18880', '--min-containers', '1', '--rollout-deadline', '4s', ...FAST])
  await waitForStatus(gw, 'one healthy replica', (x) => healthyPorts(x).length === 1)
  const before = await containerImages(service)

  const missing = await postRollout(gw, MISSING)
  t.equal(missing.status, 422)
  t.match(missing.body.error, { code: 'SYM_ERR_IMAGE_UNAVAILABLE', message: /127\.0\.0\.1:1\/symphony-no-such-image:1/ })
  t.same(await containerImages(service), before, 'nothing changed')
  t.equal((await getStatus(gw) as unknown as { rollout: unknown }).rollout, null, 'no rollout began')

  t.equal((await postRollout(gw, NEVER_HEALTHY)).status, 202)
  const busy = await postRollout(gw, V2)
  t.equal(busy.status, 409)
  t.match(busy.body.error, { code: 'SYM_ERR_ROLLOUT_RUNNING', message: new RegExp(`a rollout to ${NEVER_HEALTHY} .* is running`) })

  // The command says the same, with its exit codes.
  const cli = await deployCli([V2, '--admin-port', String(gw.adminPort)])
  t.equal(cli.code, 13, `exit 13: ${cli.stderr}`)
  t.match(cli.stderr, /^symphony: a rollout to symphony-rollout-api:never-healthy/)
  t.equal(cli.stderr.trim().split('\n').length, 1, 'one line')
  t.equal((await rolloutEnd(gw, 30_000)).phase, 'rolled-back')
  const cliMissing = await deployCli([MISSING, '--admin-port', String(gw.adminPort)])
  t.equal(cliMissing.code, 4, `exit 4: ${cliMissing.stderr}`)
})

t.test('symphony deploy prints each step and exits 0; 12 on a rollback', async (t) => {
  const service = uniqueService('cli')
  const v2 = await imageId(V2)
  const gw = await startFleet(t, service, ['--image', V1, '--base-port', '18890', '--min-containers', '2', '--rollout-deadline', '3s', ...FAST])
  await waitForStatus(gw, 'two healthy replicas', (x) => healthyPorts(x).length === 2)
  const ok = await deployCli([V2, '--admin-port', String(gw.adminPort)])
  t.equal(ok.code, 0, `exit 0: ${ok.stderr}`)
  const steps = ok.lines.map((l) => l.split(' ')[1])
  t.same(steps.filter((s) => s !== 'drained'), ['begin', 'started', 'healthy', 'draining', 'started', 'healthy', 'draining', 'succeeded'], ok.lines.join('\n'))
  t.ok(steps.includes('drained'), 'the old replicas\' removal is told too')
  t.same((await containerImages(service)).map((c) => c.image), [v2, v2])

  const bad = await deployCli([NEVER_HEALTHY, '--admin-port', String(gw.adminPort)])
  t.equal(bad.code, 12, `exit 12: ${bad.stderr}`)
  t.match(bad.stderr, /^symphony: rolled back: new replica on port \d+ not healthy within 3000 ms/)
  t.ok(bad.lines.some((l) => / rollback /.test(l)), 'the rollback is a step')
  t.same((await containerImages(service)).map((c) => c.image), [v2, v2], 'back on v2, the previous image')
})

t.test('symphony deploy: fixed backends 14, nothing listening 15, wrong token 16, bad arguments 2', async (t) => {
  const fixed = await startTestGateway(t, ['--backend', '127.0.0.1:1', '--threads', '1'])
  const r14 = await deployCli([V2, '--admin-port', String(fixed.adminPort)])
  t.equal(r14.code, 14, r14.stderr)
  t.match(r14.stderr, /fixed --backend targets/)
  const r15 = await deployCli([V2, '--admin-port', '1'])
  t.equal(r15.code, 15, r15.stderr)
  t.match(r15.stderr, /no symphony admin API answers at http:\/\/127\.0\.0\.1:1/)
  const guarded = await startTestGateway(t, ['--backend', '127.0.0.1:1', '--threads', '1', '--admin-token', 'right-token-0123456789'])
  const r16 = await deployCli([V2, '--admin-port', String(guarded.adminPort)], { SYMPHONY_ADMIN_TOKEN: 'wrong-token-0123456789' })
  t.equal(r16.code, 16, r16.stderr)
  t.match(r16.stderr, /refused the token/)
  const r14b = await deployCli([V2, '--admin-port', String(guarded.adminPort), '--admin-token', 'right-token-0123456789'])
  t.equal(r14b.code, 14, 'with the right token, the refusal is the fixed backends\'')
  const r2 = await deployCli(['--admin-port', '9180'])
  t.equal(r2.code, 2)
  t.match(r2.stderr, /name the image to roll to/)
  const r2b = await deployCli([V2, '--admin-prot', '9180'])
  t.equal(r2b.code, 2)
  t.match(r2b.stderr, /unknown option --admin-prot/)
})
