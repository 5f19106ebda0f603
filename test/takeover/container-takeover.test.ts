/**
 * docs/deployment.md's docker way to restart without a failed request, run as written (issue
 * #23, point 2): symphony's own image on the host network with the Docker socket mounted, then a
 * second container of it with another admin port and `--takeover`. Under bounded load (an undici
 * keep-alive pool and fresh connections), with net.ipv4.tcp_migrate_req=1 as the docs advise: 0 failed requests, the same replicas, the old container
 * exiting 0 by itself, the new one acting. Host ports 18911-18921.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { request } from 'undici'
import { TEST_IMAGE, ensureEngineAndImage, removeServiceContainers, serviceContainers, uniqueService, waitFor } from '../helpers/docker'
import { SYMPHONY_IMAGE, docker, ensureSymphonyImage } from '../helpers/swarm'
import { boundedLoad, migrateAcceptQueues } from '../helpers/bounded-load'

ensureEngineAndImage()
ensureSymphonyImage()

const PORT = 18911
const BASE = 18912
const ADMIN_OLD = 18920
const ADMIN_NEW = 18921

/**
 * The docs' `--ulimit nofile=65536:65536`, lowered to this machine's hard limit where that is less
 * (an engine cannot raise it: runc fails "error setting rlimits"; the test machine has 20000).
 */
const NOFILE = Math.min(65536, Number(/Max open files\s+\S+\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 65536))

/** `docker run -d` as the docs give it, plus the test label; the fleet never scales (2 replicas). */
const runArgs = (name: string, service: string, adminPort: number, extra: string[]): string[] => [
  'run', '-d', '--name', name, '--label', 'io.symphony.managed=true', '--restart', 'on-failure', '--stop-timeout', '45',
  '-v', '/var/run/docker.sock:/var/run/docker.sock', '--network', 'host', '--ulimit', `nofile=${NOFILE}:${NOFILE}`,
  SYMPHONY_IMAGE, '--image', TEST_IMAGE, '--service', service, '--base-port', String(BASE), '--port', String(PORT),
  '--host', '127.0.0.1', '--admin-port', String(adminPort), '--threads', '1', '--fault-interval', '500ms', '--health-timeout', '450ms',
  '--min-containers', '2', '--max-containers', '2', '--window', '30s', ...extra
]

const jsonLines = async (name: string): Promise<Array<Record<string, unknown>>> =>
  (await docker(['logs', name])).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)

async function ready (adminPort: number): Promise<boolean> {
  try {
    const res = await request(`http://127.0.0.1:${adminPort}/readyz`)
    await res.body.text()
    return res.statusCode === 200
  } catch { return false }
}

t.test('the docker recipe: a second container with --takeover on the host network, 0 failed requests', async (t) => {
  const service = uniqueService('ctakeover')
  const oldName = `symphony-test-${service}-old`
  const newName = `symphony-test-${service}-new`
  t.teardown(async () => {
    await docker(['rm', '-f', oldName, newName]).catch(() => {})
    await removeServiceContainers(service)
  })
  // Both containers share the host's network namespace, where this is set.
  migrateAcceptQueues(t)
  await docker(runArgs(oldName, service, ADMIN_OLD, []))
  const before = await waitFor('2 healthy replicas behind the first container', async () => {
    const list = await serviceContainers(service)
    return list.length === 2 && list.every((c) => c.running) && await ready(ADMIN_OLD) ? list : undefined
  }, 60_000, 200)

  const traffic = boundedLoad(PORT, 4, 2, 120_000)
  await new Promise((resolve) => setTimeout(resolve, 2000))
  await docker(runArgs(newName, service, ADMIN_NEW, ['--takeover']))
  // `docker wait` prints the exit code once the old container has ended by itself.
  const oldExit = await docker(['wait', oldName])
  t.equal(oldExit, '0', 'the old container exits 0 once drained, with no docker stop')
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.equal(await docker(['inspect', '-f', '{{.State.Status}} {{.RestartCount}}', oldName]), 'exited 0', 'and stays ended: --restart on-failure does not start it again')
  t.ok(await waitFor('the new one ready', async () => await ready(ADMIN_NEW) ? true : undefined, 10_000, 100), 'the new container serves and is ready')
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const result = await traffic.stop()
  t.comment(`load: ${result.ok} answered (${result.fresh} on fresh connections), ${result.failed.length} failed`)
  const timeline = async (name: string): Promise<string[]> => (await jsonLines(name)).filter((o) => o.event === 'takeover' || /listening|drain|stopp/.test(String(o.msg))).map((o) => `${name.slice(-3)} ${String(o.time)} ${String(o.msg)} ${String(o.step ?? '')}`)
  t.same(result.failed, [], '0 failed requests', { failedFrom: result.failedSpan?.map((at) => new Date(at).toISOString()), timeline: [...await timeline(oldName), ...await timeline(newName)].sort((a, b) => a.slice(4).localeCompare(b.slice(4))) })
  t.ok(result.fresh > 0 && result.ok > result.fresh, 'both kinds of load ran')

  const oldLines = await jsonLines(oldName)
  t.ok(oldLines.some((o) => o.event === 'takeover' && o.step === 'drain'), 'the old one was told to drain by the new one')
  const newLines = await jsonLines(newName)
  t.same(newLines.filter((o) => o.event === 'adopt').map((o) => o.id).sort(), before.map((c) => c.id).sort(), 'the new one adopted both replicas')
  t.same(newLines.filter((o) => o.event === 'start'), [], 'and started none')
  t.same((await serviceContainers(service)).map((c) => [c.id, c.running]).sort(), before.map((c) => [c.id, true]).sort(), 'the same containers, running')
  const status = await (await request(`http://127.0.0.1:${ADMIN_NEW}/status`)).body.json() as { controlPlane: { state: string } }
  t.equal(status.controlPlane.state, 'acting', 'the new container acts')
})
