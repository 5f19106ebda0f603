/**
 * docs/deployment.md's systemd way to restart without a failed request, run as written under a
 * real systemd (issue #23, point 2): the unit files and the shell lines are read from the page,
 * so the page and this test cannot drift apart. systemd is PID 1 in a container of
 * scripts/build-systemd-image.sh's image (test/helpers/systemd.ts), on the host network with the
 * host's Docker socket. Under bounded load (keep-alive and fresh connections), with
 * net.ipv4.tcp_migrate_req=1: a takeover from symphony@A to symphony@B and back, 0 failed
 * requests, the same replicas, the old instance ended (inactive, result success, not restarted),
 * then a reboot that starts the enabled instance without a takeover.
 *
 * What differs from a server, each because this machine differs: the instances are named by admin
 * ports 18948/18949 (9180/9181 in the docs: another test may listen there), LimitNOFILE is this
 * machine's hard limit where that is below the docs' 65536 (systemd cannot raise it without
 * CAP_SYS_RESOURCE, which the sandbox withholds), `docker.service` is a stand-in unit that checks
 * the host's engine answers (the unit requires it; the engine runs outside the container), and the
 * docker group gets the socket's gid (what Debian's docker package does). Host ports 18941-18949.
 */
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { request } from 'undici'
import { TEST_IMAGE, ensureEngineAndImage, removeServiceContainers, repoRoot, serviceContainers, uniqueService, waitFor } from '../helpers/docker'
import { docker, ensureSymphonyImage } from '../helpers/swarm'
import { boundedLoad, migrateAcceptQueues } from '../helpers/bounded-load'
import { ensureSystemdImage, startSystemd, type SystemdHost } from '../helpers/systemd'

ensureEngineAndImage()
ensureSymphonyImage()
ensureSystemdImage()

const PORT = 18941
const BASE = 18942
const ADMIN = { A: 18948, B: 18949 }
const DOC_ADMIN = { A: 9180, B: 9181 }

const doc = readFileSync(path.join(repoRoot, 'docs', 'deployment.md'), 'utf8')

/** The text of `docs/deployment.md` from `start` up to `end`. */
function between (start: string, end: string): string {
  const from = doc.indexOf(start)
  const to = doc.indexOf(end, from + start.length)
  if (from < 0 || to < 0) throw new Error(`docs/deployment.md has no "${start}" … "${end}"`)
  return doc.slice(from, to)
}

/** The fenced blocks of `lang` in `text`, in order. */
const blocks = (text: string, lang: string): string[] =>
  [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1])

/** A shell block's commands: comments and `sudo` dropped, the docs' admin ports made this test's. */
const commands = (block: string, swap = false): string[] => block.split('\n')
  .map((l) => l.replace(/\s+#.*$/, '').replace(/^#.*$/, '').replace(/\bsudo /g, '').trim()).filter((l) => l !== '')
  .map((l) => l.replace(/\b(9180|9181)\b/g, (p) => String((p === String(DOC_ADMIN.A)) !== swap ? ADMIN.A : ADMIN.B)))

/** The server section's unit with the template's lines put in its [Service] section (replaced by key, or added). */
function templateUnit (base: string, changes: string, nofile: number): string {
  const lines = base.split('\n')
  const serviceEnd = (): number => { const i = lines.findIndex((l, n) => n > lines.indexOf('[Service]') && /^\[/.test(l)); return i < 0 ? lines.length : i }
  for (const line of changes.split('\n')) {
    const key = /^(\w+)=/.exec(line)?.[1]
    if (key === undefined) continue
    const at = lines.findIndex((l) => l.startsWith(`${key}=`))
    if (at >= 0) lines[at] = line
    else lines.splice(serviceEnd() - (lines[serviceEnd() - 1] === '' ? 1 : 0), 0, line)
  }
  return lines.join('\n').replace(/^LimitNOFILE=(\d+)$/m, (_l, n: string) => `LimitNOFILE=${Math.min(Number(n), nofile)}`)
}

const server = between('## On a server, under systemd', '## As a container')
const takeover = between('**Under systemd.**', '**With docker.**')
const [takeoverSh] = blocks(takeover, 'sh')

async function ready (adminPort: number): Promise<boolean> {
  try {
    const res = await request(`http://127.0.0.1:${adminPort}/readyz`)
    await res.body.text()
    return res.statusCode === 200
  } catch { return false }
}

/** The id of an instance's current run (systemd forgets it once the unit is inactive). */
const invocation = async (host: SystemdHost, port: number): Promise<string> => (await host.show(`symphony@${port}`, ['InvocationID'])).InvocationID

/** symphony's JSON log lines of one run of an instance, from the journal. */
async function journal (host: SystemdHost, run: string): Promise<Array<Record<string, unknown>>> {
  return (await host.sh(`journalctl -o cat --no-pager _SYSTEMD_INVOCATION_ID=${run}`)).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
}

/** Install as the docs say: the user, the docker group, the config, the template unit; the first instance enabled and started. */
async function install (t: Test, host: SystemdHost, service: string): Promise<void> {
  const nofile = Number(/Max open files\s+\S+\s+(\d+)/.exec(await host.sh('cat /proc/1/limits'))?.[1])
  const [baseUnit] = blocks(server, 'ini')
  const [changes] = blocks(takeover, 'ini')
  const unit = templateUnit(baseUnit, changes, nofile)
  const socketGid = await host.sh('stat -c %g /run/docker.sock')
  await host.sh(`groupadd -o -g ${socketGid} docker`)
  const useradd = blocks(server, 'sh').flatMap((b) => commands(b)).filter((c) => c.startsWith('useradd '))
  t.equal(useradd.length, 1, 'the docs create the service user')
  for (const cmd of useradd) await host.sh(cmd)
  await host.sh('cat > /etc/systemd/system/docker.service', '[Unit]\nDescription=stand-in: the host\'s engine, reached through its socket\n' +
    '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/usr/bin/test -S /run/docker.sock\n')
  await host.sh('cat > /etc/systemd/system/symphony@.service', unit + '\n')
  await host.sh('mkdir -p /etc/symphony && cat > /etc/symphony/symphony.yaml', [
    `image: ${TEST_IMAGE}`, `service: ${service}`, `base_port: ${BASE}`, `port: ${PORT}`, 'host: 127.0.0.1', `admin_port: ${ADMIN.A}`,
    'threads: 1', 'fault_interval: 500ms', 'health_timeout: 450ms', 'min_containers: 2', 'max_containers: 2', 'window: 30s', ''].join('\n'))
  await host.sh('systemctl daemon-reload')
  const first = commands(takeoverSh)[0]
  t.match(first, /^systemctl enable --now symphony@\d+$/, 'the docs start the first instance with enable --now')
  await host.sh(first)
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))
const isActive = async (host: SystemdHost, port: number): Promise<string> => await host.sh(`systemctl is-active symphony@${port} || true`)

/**
 * One restart as the docs give it, under load: the docs' lines after the first start (with the
 * instances swapped for the way back), then the old instance ends by itself and stays ended.
 */
async function restart (t: Test, host: SystemdHost, service: string, from: number, to: number): Promise<void> {
  const before = await serviceContainers(service)
  const oldRun = await invocation(host, from)
  const traffic = boundedLoad(PORT, 4, 2, 120_000)
  await sleep(2000)
  for (const cmd of commands(takeoverSh, from === ADMIN.B).slice(1)) await host.sh(cmd)
  await waitFor(`symphony@${from} ended`, async () => await isActive(host, from) === 'inactive' ? true : undefined, 60_000, 100)
  t.same(await host.show(`symphony@${from}`, ['Result', 'ExecMainStatus', 'NRestarts']), { Result: 'success', ExecMainStatus: '0', NRestarts: '0' }, `symphony@${from} ended with exit 0, result success`)
  await sleep(3000)
  t.same([await isActive(host, from), (await host.show(`symphony@${from}`, ['NRestarts'])).NRestarts], ['inactive', '0'], 'and stays ended: Restart=on-failure does not start it again (RestartSec=2 has passed)')
  t.equal(await isActive(host, to), 'active', `symphony@${to} is active`)
  t.ok(await waitFor(`symphony@${to} ready`, async () => await ready(to) ? true : undefined, 10_000, 100), 'and ready')
  await sleep(1000)
  const result = await traffic.stop()
  t.comment(`symphony@${from} → symphony@${to}: ${result.ok} answered (${result.fresh} on fresh connections), ${result.failed.length} failed`)
  const timeline = async (run: string, who: number): Promise<string[]> => (await journal(host, run)).filter((o) => o.event === 'takeover' || /listening|drain|stopp|clos/.test(String(o.msg)))
    .map((o) => `${String(o.time)} ${who} ${String(o.msg)} ${String(o.step ?? '')}`)
  const newRun = await invocation(host, to)
  t.same(result.failed, [], '0 failed requests', { failedFrom: result.failedSpan?.map((at) => new Date(at).toISOString()), timeline: [...await timeline(oldRun, from), ...await timeline(newRun, to)].sort() })
  t.ok(result.fresh > 0 && result.ok > result.fresh, 'both kinds of load ran')

  t.ok((await journal(host, oldRun)).some((o) => o.event === 'takeover' && o.step === 'drain'), `symphony@${from} was told to drain by symphony@${to}`)
  const newLines = await journal(host, newRun)
  t.same(newLines.filter((o) => o.event === 'adopt').map((o) => o.id).sort(), before.map((c) => c.id).sort(), `symphony@${to} adopted both replicas`)
  t.same(newLines.filter((o) => o.event === 'start'), [], 'and started none')
  t.same((await serviceContainers(service)).map((c) => [c.id, c.running]), before.map((c) => [c.id, true]), 'the same containers, running')
  const status = await (await request(`http://127.0.0.1:${to}/status`)).body.json() as { controlPlane: { state: string } }
  t.equal(status.controlPlane.state, 'acting', `symphony@${to} acts`)
  t.same(await host.sh(`systemctl is-enabled symphony@${from} symphony@${to} || true`), 'disabled\nenabled', `symphony@${to} is the one that boots`)
}

t.test('the systemd recipe: symphony@ instances taking over from each other under a real systemd, 0 failed requests', async (t) => {
  const service = uniqueService('systemd')
  const began = Date.now()
  const phase = (what: string): void => { t.comment(`${what} at ${((Date.now() - began) / 1000).toFixed(1)} s`) }
  // Registered before the container's: teardowns run last-in first-out, so the replicas go once
  // systemd and its symphony are gone (removed before, they were healed back by the running one).
  t.teardown(async () => { await removeServiceContainers(service) })
  const host = await startSystemd(t, `symphony-test-${service}`)
  await host.booted(60_000)
  phase('booted')
  // The container shares the host's network namespace, where this is set.
  migrateAcceptQueues(t)
  await install(t, host, service)
  phase('installed')
  await waitFor('2 healthy replicas behind symphony@A', async () => {
    const list = await serviceContainers(service)
    return list.length === 2 && list.every((c) => c.running) && await ready(ADMIN.A) ? true : undefined
  }, 60_000, 200).catch(async (err: unknown) => { throw new Error(`${String(err)}\n${await host.describe(`symphony@${ADMIN.A}`)}`) })

  phase('serving')
  await restart(t, host, service, ADMIN.A, ADMIN.B)
  phase('taken over')
  await restart(t, host, service, ADMIN.B, ADMIN.A)
  phase('taken back')

  // A reboot: systemd stops the running instance (a drain that leaves the replicas) and boots
  // again; the enabled instance must start without a takeover, since none runs to take over from.
  const before = await serviceContainers(service)
  await host.sh('test ! -e /etc/symphony/takeover').catch(() => t.fail('the docs\' lines leave /etc/symphony/takeover behind: at boot it would make the enabled instance exit 21'))
  await docker(['restart', '-t', '60', host.name])
  phase('shut down and started')
  await host.booted(60_000)
  phase('booted again')
  await waitFor(`symphony@${ADMIN.A} ready after the reboot`, async () => await ready(ADMIN.A) ? true : undefined, 30_000, 200)
    .catch(async (err: unknown) => { throw new Error(`${String(err)}\n${await host.describe(`symphony@${ADMIN.A}`)}`) })
  t.same([await isActive(host, ADMIN.A), await isActive(host, ADMIN.B)], ['active', 'inactive'], 'and the other instance stays down')
  const lines = await journal(host, await invocation(host, ADMIN.A))
  t.same(lines.filter((o) => o.event === 'adopt').map((o) => o.id).sort(), before.map((c) => c.id).sort(), 'it adopted both replicas')
  t.same(lines.filter((o) => o.event === 'start'), [], 'and started none')
})
