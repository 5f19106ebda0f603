/**
 * The Docker engine restarted under symphony's feet, during traffic (issue 3, issue 6). Runs
 * alone, after the parallel suite (package.json "test"), because it stops the engine every other
 * Docker test uses. Without live-restore the engine stops the containers when it stops; symphony
 * must hold requests meanwhile, reconnect with backoff, and end with exactly its replicas again:
 * no duplicates, no orphans. Host ports 18300-18309.
 */
import t from 'tap'
import { execFileSync, execSync } from 'node:child_process'
import path from 'node:path'
import { Agent, request } from 'undici'
import { TEST_IMAGE, ensureEngineAndImage, repoRoot, serviceContainers, uniqueService } from '../helpers/docker'
import { startFleet, waitForStatus, healthyPorts, getStatus } from '../fleet/harness'
import { sleep } from '../helpers/gateway'

ensureEngineAndImage()

function restartEngine (): void {
  const pid = execSync('pgrep -xo dockerd || true').toString().trim()
  if (pid === '') throw new Error('no dockerd running')
  process.kill(Number(pid), 'SIGTERM')
  for (let i = 0; i < 300; i++) {
    try { process.kill(Number(pid), 0) } catch { break }
    execSync('sleep 0.1')
  }
  execFileSync(path.join(repoRoot, 'scripts', 'docker-engine.sh'), [], { stdio: ['ignore', 'inherit', 'inherit'] })
}

t.test('engine restart during traffic: serving resumes, exactly the same ports, no duplicates', async (t) => {
  const service = uniqueService('enginerestart')
  const gw = await startFleet(t, service, [
    '--image', TEST_IMAGE, '--base-port', '18300', '--min-containers', '2', '--max-containers', '2',
    '--fault-interval', '300ms', '--queue-timeout', '30s'
  ])
  await waitForStatus(gw, 'two healthy', (s) => healthyPorts(s).length === 2, 20_000)
  const agent = new Agent({ connections: 4 })
  t.teardown(() => agent.close())
  let ok = 0
  const failures: string[] = []
  let running = true
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        const res = await request(`${gw.url}/api/v1/hello`, { dispatcher: agent, headersTimeout: 40_000 })
        await res.body.dump()
        if (res.statusCode === 200) ok++
        else failures.push(String(res.statusCode))
      } catch (err) { failures.push((err as Error & { code?: string }).code ?? (err as Error).message) }
      await sleep(20)
    }
  }
  const loops = [loop(), loop()]
  await sleep(1000)
  const okBefore = ok
  restartEngine()
  const s = await waitForStatus(gw, 'two healthy again after the restart', (st) => healthyPorts(st).length === 2 && (st as unknown as { runtimeConnected: boolean }).runtimeConnected, 60_000)
  const okAtRecovery = ok
  await sleep(2000)
  running = false
  await Promise.all(loops)
  t.ok(okBefore > 10, `served before the restart (${okBefore})`)
  t.ok(ok > okAtRecovery, `served after the restart (${ok - okAtRecovery} more)`)
  t.same(healthyPorts(s), [18300, 18301], 'the same two ports')
  const containers = await serviceContainers(service)
  t.same(containers.map((c) => [c.port, c.running]), [[18300, true], [18301, true]], 'exactly two containers: no duplicate, no orphan')
  const status = await getStatus(gw)
  t.ok(((status.counters as { disconnects?: number }).disconnects ?? 0) >= 1, 'the disconnect was seen and counted')
  t.comment(`requests: ${ok} ok, failures: ${JSON.stringify(failures)}`)
  t.ok(failures.length <= 2, `at most the requests in flight at the moment the engine stopped failed (${failures.length})`)
})
