/**
 * `--takeover` with the real CLI, real containers and real sockets (issue #23, point 1): under
 * bounded load (an undici keep-alive pool and fresh connections) a new instance takes the
 * service over from the running one with 0 failed requests, the same containers, the request
 * window carried over, and the old process exiting 0; a takeover that cannot be done exits 21
 * with one line and leaves the running instance as it was. Host ports 18900-18909.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { request } from 'undici'
import { startCli, type RunningCli } from '../helpers/cli'
import { TEST_IMAGE, ensureEngineAndImage, leaseHolderPid, removeServiceContainers, repoRoot, serviceContainers, uniqueService, waitFor } from '../helpers/docker'
import { leaseName } from '../../src/lease/carrier'
import { boundedLoad as load, migrateAcceptQueues } from '../helpers/bounded-load'

ensureEngineAndImage()

const BIN = path.join(repoRoot, 'bin', 'symphony.js')
/** Two replicas, never scaled (the load must not start a third: the IDs before and after are compared). */
const fleetArgs = (service: string, port: number, base: number): string[] => [
  '--image', TEST_IMAGE, '--service', service, '--base-port', String(base), '--port', String(port),
  '--fault-interval', '500ms', '--health-timeout', '450ms', '--threads', '1',
  '--min-containers', '2', '--max-containers', '2', '--window', '30s'
]

interface Status { controlPlane: { state: string, lease: string | null }, autoscaler: { window: { seconds: number, count: number } } }
async function status (adminPort: number, token?: string): Promise<Status> {
  const res = await request(`http://127.0.0.1:${adminPort}/status`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  return await res.body.json() as Status
}

const parsed = (cli: RunningCli): Array<Record<string, unknown>> =>
  cli.lines.map((l) => { try { return JSON.parse(l) } catch { return {} } })

/** Run the CLI to its end (at most 60 s). */
async function runToEnd (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

t.test('a takeover under keep-alive and fresh-connection load: 0 failed requests, same containers, window carried over, old exits 0', async (t) => {
  const service = uniqueService('takeover')
  t.teardown(() => removeServiceContainers(service))
  migrateAcceptQueues(t)
  const args = [...fleetArgs(service, 18908, 18900), '--admin-port', '0']
  const old = await startCli(t, args, {}, [], false)
  const before = await waitFor('2 healthy replicas', async () => {
    const list = await serviceContainers(service)
    const ready = await request(`http://127.0.0.1:${old.adminPort}/readyz`).then(async (r) => { await r.body.text(); return r.statusCode === 200 })
    return list.length === 2 && list.every((c) => c.running) && ready ? list : undefined
  }, 30_000, 100)

  const traffic = load(18908, 4, 2, 60_000)
  // Counts in the old one's window before the hand-over (the window is counted per second).
  await new Promise((resolve) => setTimeout(resolve, 3000))
  const oldCount = (await status(old.adminPort)).autoscaler.window.count
  t.ok(oldCount > 0, `the old instance counted ${oldCount} requests in its window`)

  const fresh = await startCli(t, [...args, '--takeover'], {}, [], false)
  const listenedAt = Date.now()
  const right = await status(fresh.adminPort)
  const begun = parsed(fresh).find((o) => o.event === 'takeover' && o.step === 'begun')
  const handed = Number(begun?.windowCount)
  t.ok(handed >= oldCount, `the old one handed over a window of ${handed} requests (it had ${oldCount} before the takeover began)`)
  t.ok(right.autoscaler.window.count >= handed, `the new one's /status right after it listens counts ${right.autoscaler.window.count} in its window`)
  t.match(right.controlPlane, { state: 'acting', lease: `container ${leaseName(service)}` }, 'the new one acts and holds the lease')

  t.equal(await old.exited, 0, 'the old process exits 0 once drained')
  const exitedAt = Date.now()
  // Keep the load on the new one alone for a second, then stop it.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const result = await traffic.stop()
  t.comment(`load: ${result.ok} answered (${result.fresh} on fresh connections), ${result.failed.length} failed; the old one exited ${exitedAt - listenedAt} ms after the new one listened`)
  t.same(result.failed, [], '0 failed requests')
  t.ok(result.fresh > 0 && result.ok > result.fresh, 'both kinds of load ran')

  const oldLines = parsed(old)
  const begin = oldLines.findIndex((o) => o.event === 'takeover' && o.step === 'begin')
  t.ok(begin >= 0, 'the old one logged the begin step')
  t.ok(oldLines.some((o) => o.event === 'takeover' && o.step === 'drain'), 'and the drain step')
  const acted = ['scale', 'start', 'replace', 'remove', 'remove-stray']
  t.same(oldLines.slice(begin).filter((o) => acted.includes(String(o.event))), [], 'from the begin step on, the old one started, scaled, replaced or removed nothing')
  const freshLines = parsed(fresh)
  t.same(freshLines.filter((o) => o.event === 'adopt').map((o) => o.id).sort(), before.map((c) => c.id).sort(), 'the new one adopted both replicas')
  t.same(freshLines.filter((o) => o.event === 'start'), [], 'and started none')
  t.same((await serviceContainers(service)).map((c) => [c.id, c.running]).sort(), before.map((c) => [c.id, true]).sort(), 'the same containers, running: no duplicates')
  t.equal(await leaseHolderPid(service), fresh.child.pid, 'the lease names the new instance')

  fresh.child.kill('SIGTERM')
  t.equal(await fresh.exited, 0)
})

t.test('a takeover that cannot be done exits 21 with one line and leaves the running instance as it was', async (t) => {
  const service = uniqueService('takeover21')
  t.teardown(() => removeServiceContainers(service))
  const none = await runToEnd([...fleetArgs(service, 18909, 18905), '--admin-port', '0', '--takeover'])
  t.equal(none.code, 21, 'no instance to take over from: exit 21')
  t.match(none.stderr, /^symphony: --takeover: no symphony controls service "[^"]+" here/, `one line naming the problem: ${none.stderr.trim()}`)
  t.equal(none.stderr.split('\n').length, 2, 'exactly one line')
  t.same(await serviceContainers(service), [], 'nothing was started')

  const token = 'a-token-for-the-old-one'
  const old = await startCli(t, [...fleetArgs(service, 18909, 18905), '--admin-port', '0', '--admin-token', token], {}, [], false)
  const before = await waitFor('2 replicas', async () => {
    const list = await serviceContainers(service)
    return list.length === 2 && list.every((c) => c.running) ? list : undefined
  }, 30_000, 100)
  const wrong = await runToEnd([...fleetArgs(service, 18909, 18905), '--admin-port', '0', '--admin-token', 'not-the-same-token!', '--takeover'])
  t.equal(wrong.code, 21, 'a token mismatch: exit 21')
  t.match(wrong.stderr, /refused the takeover: its admin API needs a token and this one's --admin-token does not match; nothing changed/, `one line: ${wrong.stderr.trim()}`)
  t.equal(wrong.stderr.split('\n').length, 2, 'exactly one line')
  t.equal(wrong.stdout, '', 'nothing logged (nothing was adopted or started)')
  t.match((await status(old.adminPort, token)).controlPlane, { state: 'acting', lease: `container ${leaseName(service)}` }, 'the old one still acts and holds its lease')
  t.equal(await leaseHolderPid(service), old.child.pid)
  t.same((await serviceContainers(service)).map((c) => c.id).sort(), before.map((c) => c.id).sort(), 'the same containers')
  t.same(parsed(old).filter((o) => o.event === 'takeover'), [], 'the old one saw no takeover step')
  old.child.kill('SIGTERM')
  t.equal(await old.exited, 0)
})
