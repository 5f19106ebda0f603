/**
 * `symphony remove` on the docker runtime (issue #23 point 4), with the real CLI and engine:
 * refused while the symphony that manages the service answers, then every replica removed, one
 * line each, nothing left.
 */
import t from 'tap'
import { request } from 'undici'
import { runCliToEnd, startCli, type CliRun } from '../helpers/cli'
import { TEST_IMAGE, dockerClient, ensureEngineAndImage, removeServiceContainers, serviceContainers, uniqueService, waitFor } from '../helpers/docker'

ensureEngineAndImage()

/** Run `symphony remove …`; its exit code and output. */
const remove = (args: string[]): Promise<CliRun> => runCliToEnd(['remove', ...args], process.env)

t.test('remove: refused while its symphony runs, then every replica removed, one line each', async (t) => {
  const service = uniqueService('remove')
  t.teardown(() => removeServiceContainers(service))
  const common = ['--image', TEST_IMAGE, '--service', service, '--base-port', '18760']
  const cli = await startCli(t, [...common, '--min-containers', '2', '--fault-interval', '500ms', '--threads', '1'])
  await waitFor('2 healthy', async () => {
    const s = await (await request(`http://127.0.0.1:${cli.adminPort}/status`)).body.json() as { backends: Array<{ state: string }> }
    return s.backends.length === 2 && s.backends.every((b) => b.state === 'healthy') ? true : undefined
  }, 20_000, 100)
  const before = await serviceContainers(service)
  t.equal(before.length, 2, 'two replicas running')

  const refused = await remove([...common, '--admin-port', String(cli.adminPort)])
  t.equal(refused.code, 22, `exit 22 while the symphony runs (${refused.stderr.trim()})`)
  t.match(refused.stderr, new RegExp(`^symphony: a symphony manages service ${service} \\(its admin API at 127\\.0\\.0\\.1:${cli.adminPort} says so\\); stop it first`), 'one line naming it and the fix')
  t.equal(refused.stderr.trim().split('\n').length, 1, 'one line')
  t.same((await serviceContainers(service)).map((c) => c.id), before.map((c) => c.id), 'nothing removed')

  cli.child.kill('SIGTERM')
  t.equal(await cli.exited, 0, 'symphony stopped (without --cleanup-on-exit: its containers stay)')
  t.equal((await serviceContainers(service)).length, 2, 'the replicas outlived it, as designed')

  const done = await remove([...common, '--admin-port', String(cli.adminPort)])
  t.equal(done.code, 0, `exit 0 (${done.stderr})`)
  const lines = done.stdout.trim().split('\n')
  t.same(lines.filter((l) => l.startsWith('removed container ')).sort(), before.map((c) => `removed container ${c.name} (${c.id.slice(0, 12)})`).sort(), 'one line per container removed')
  t.equal(lines.at(-1), `service ${service}: 2 of 2 containers removed`)
  t.same(await serviceContainers(service), [], 'nothing left, running or stopped')

  const again = await remove(common)
  t.equal(again.code, 0, 'a second run is harmless')
  t.equal(again.stdout.trim(), `service ${service}: no containers to remove`)
})

t.test('remove and the lease: refused while it is renewed, a stale one removed with the replicas', async (t) => {
  const service = uniqueService('remove-lease')
  t.teardown(() => removeServiceContainers(service))
  const common = ['--image', TEST_IMAGE, '--service', service, '--base-port', '18770']
  const cli = await startCli(t, [...common, '--min-containers', '1', '--fault-interval', '500ms', '--threads', '1'])
  await waitFor('1 healthy', async () => {
    const s = await (await request(`http://127.0.0.1:${cli.adminPort}/status`)).body.json() as { backends: Array<{ state: string }> }
    return s.backends.length === 1 && s.backends.every((b) => b.state === 'healthy') ? true : undefined
  }, 20_000, 100)
  const lease = `symphony-lease-${service}`
  const leaseExists = async (): Promise<boolean> => (await dockerClient().listContainers({ all: true, filters: { name: [`^/${lease}$`] } })).length === 1
  t.ok(await leaseExists(), 'the running symphony holds its lease container')

  // Another admin port than the running one's: only the lease can tell that it is managed.
  const refused = await remove([...common, '--admin-port', '1'])
  t.equal(refused.code, 22, `exit 22 while the lease is renewed (${refused.stderr.trim()})`)
  t.match(refused.stderr, new RegExp(`^symphony: service ${service} is still managed: its lease \\(container ${lease}\\) is renewed by pid ${cli.child.pid}`), 'one line naming the holder')
  t.equal(refused.stderr.trim().split('\n').length, 1, 'one line')
  t.equal((await serviceContainers(service)).length, 1, 'nothing removed')

  cli.child.kill('SIGKILL')
  await cli.exited
  t.ok(await leaseExists(), 'a SIGKILLed holder leaves its lease behind')
  const done = await remove([...common, '--admin-port', '1'])
  t.equal(done.code, 0, `exit 0 once the lease is stale (${done.stderr})`)
  t.match(done.stdout, new RegExp(`removed the stale lease container ${lease} \\(left by pid ${cli.child.pid} `), 'the stale lease named as removed')
  t.same(await serviceContainers(service), [], 'no replica left')
  t.notOk(await leaseExists(), 'no lease container left')
})
