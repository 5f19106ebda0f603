/**
 * `--upstream` through the real CLI and real containers. On the host, auto goes direct: /status
 * shows the containers' own addresses. The fallback for real: symphony runs in a network namespace this test creates, joined to the
 * host by a veth pair with addresses the test assigns (10.214.K.1 on the host, 10.214.K.2
 * inside) and no other route. From there the containers' bridge addresses are unreachable, as
 * on Docker Desktop or with a rootless engine, while their ports, published on the host's veth
 * address, are reachable: `--upstream auto` must notice at start, log why, and serve through the
 * published ports. The engine's socket is a file, reachable from any network namespace.
 * Host ports 18610-18619.
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { request } from 'undici'
import { startCli } from '../helpers/cli'
import { TEST_IMAGE, dockerClient, ensureEngineAndImage, removeServiceContainers, uniqueService } from '../helpers/docker'

function ip (...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function canMakeNamespaces (): boolean {
  try {
    execFileSync('nsenter', ['--version'], { stdio: 'ignore' })
    return process.getuid?.() === 0
  } catch {
    return false
  }
}

ensureEngineAndImage()

t.test('auto on the host: direct to the container address, shown in /status', async (t) => {
  const docker = dockerClient()
  const service = uniqueService('dp-cli')
  t.teardown(() => removeServiceContainers(service, docker))
  const cli = await startCli(t, ['--image', TEST_IMAGE, '--service', service, '--base-port', '18615', '--min-containers', '1', '--max-containers', '1', '--threads', '1'])
  const events = cli.lines.map((l) => { try { return JSON.parse(l) } catch { return {} } })
  t.match(events.find((e) => e.event === 'upstream'), { level: 'info', mode: 'direct', reason: /reachable/ })
  t.match(events.find((e) => e.msg === 'symphony listening'), { upstream: 'direct' })

  const status = await (await request(`http://127.0.0.1:${cli.adminPort}/status`)).body.json() as { upstream: unknown, backends: Array<{ id: string, host: string, port: number, dial: string }> }
  t.match(status.upstream, { mode: 'direct' })
  t.equal(status.backends.length, 1)
  const [b] = status.backends
  const ip = (await docker.getContainer(b?.id ?? '').inspect()).NetworkSettings.Networks.bridge?.IPAddress
  t.match(b, { host: '127.0.0.1', port: 18615, dial: `${ip ?? ''}:80` }, 'named by its published port, dialled at the container address')

  const res = await request(`http://127.0.0.1:${cli.port}/api/v1/hello`, { headersTimeout: 5000, bodyTimeout: 5000 })
  t.equal(res.statusCode, 200)
  await res.body.dump()
})

if (!canMakeNamespaces()) {
  t.plan(0, 'needs root, ip and nsenter to create a network namespace')
} else {
  t.test('auto falls back to published ports when container addresses are unreachable, and says why', async (t) => {
    const docker = dockerClient()
    const hex = randomBytes(3).toString('hex')
    const ns = `symdp-${hex}`
    const hostIf = `vdh${hex}`
    const nsIf = `vdn${hex}`
    const k = randomInt(1, 255)
    const hostAddr = `10.214.${k}.1`
    const nsAddr = `10.214.${k}.2`
    const service = uniqueService('dp-fall')
    t.teardown(async () => {
      await removeServiceContainers(service, docker)
      try { ip('netns', 'del', ns) } catch {}
      try { ip('link', 'del', hostIf) } catch {}
    })
    ip('netns', 'add', ns)
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf)
    ip('link', 'set', nsIf, 'netns', ns)
    ip('addr', 'add', `${hostAddr}/30`, 'dev', hostIf)
    ip('link', 'set', hostIf, 'up')
    ip('-n', ns, 'addr', 'add', `${nsAddr}/30`, 'dev', nsIf)
    ip('-n', ns, 'link', 'set', nsIf, 'up')
    ip('-n', ns, 'link', 'set', 'lo', 'up')

    const cli = await startCli(t, [
      '--image', TEST_IMAGE, '--service', service, '--base-port', '18610', '--publish-host', hostAddr,
      '--host', nsAddr, '--min-containers', '1', '--max-containers', '1', '--threads', '1'
    ], {}, ['nsenter', `--net=/run/netns/${ns}`])

    const events = cli.lines.map((l) => { try { return JSON.parse(l) } catch { return {} } })
    const decision = events.find((e) => e.event === 'upstream')
    t.match(decision, { level: 'warn', mode: 'published', reason: /not reachable from here \((ENETUNREACH|EHOSTUNREACH|timeout after \d+ ms)\)/ })
    t.match(events.find((e) => e.msg === 'symphony listening'), { upstream: 'published', replicas: { running: 1 } })

    const res = await request(`http://${nsAddr}:${cli.port}/api/v1/hello`, { headersTimeout: 5000, bodyTimeout: 5000 })
    t.equal(res.statusCode, 200, 'served through the published port')
    await res.body.dump()
  })
}
