/**
 * The per-backend series of real containers on the direct path, where every replica is dialled
 * on the same container port (80): each series is named by its replica. Host ports 18760-18762;
 * the containers are removed by label in teardown.
 */
import t from 'tap'
import { Agent, request } from 'undici'
import { TEST_IMAGE, ensureEngineAndImage, uniqueService, waitFor } from '../helpers/docker'
import { getStatus, startFleet, waitForStatus } from '../fleet/harness'

ensureEngineAndImage()

async function inflightSeries (admin: string): Promise<Map<string, number>> {
  const text = await (await request(`${admin}/metrics`)).body.text()
  const out = new Map<string, number>()
  for (const m of text.matchAll(/^symphony_inflight_requests\{backend="([^"]*)"\} (\S+)$/gm)) out.set(m[1], Number(m[2]))
  return out
}

// Regression: every replica showed as backend="80", the port the proxy dials on the direct path.
t.test('three replicas on the direct path, one slow request each: three in-flight series of 1, by replica name', async (t) => {
  const service = uniqueService('inflight')
  const gw = await startFleet(t, service, [
    '--image', TEST_IMAGE, '--base-port', '18760', '--min-containers', '3', '--max-containers', '3', '--fault-interval', '300ms', '--drain-timeout', '2s'
  ])
  const ready = await waitForStatus(gw, 'three healthy replicas', (s) => s.backends.filter((b) => b.state === 'healthy').length === 3, 60_000)
  const names = ready.backends.map((b) => b.name).sort()
  t.same(names, [18760, 18761, 18762].map((p) => `symphony-${service}-${p}`), 'the replicas and their names')
  const direct = await request(`${gw.admin}/status`).then(async (r) => await r.body.json() as { upstream?: { mode: string } })
  t.equal(direct.upstream?.mode, 'direct', 'the proxy dials the containers directly')

  const agent = new Agent({ connections: 3 })
  t.teardown(() => agent.close())
  // One proxy thread, round robin: three requests in a row go to three replicas.
  const answers = [0, 1, 2].map(() => request(`${gw.url}/slow?ms=3000`, { dispatcher: agent }).then(async (r) => { await r.body.dump(); return r.statusCode }))
  t.ok(await waitFor('three requests in flight', async () => {
    const s = await getStatus(gw)
    return s.backends.every((b) => b.inflight === 1) ? true : undefined
  }, 2500, 20), '/status: one request in flight at each replica')
  const inflight = await inflightSeries(gw.admin)
  t.same([...inflight.keys()].sort(), names, 'one series per replica, labelled by its name')
  t.same([...inflight.values()], [1, 1, 1], 'each counts its one request')
  t.same(await Promise.all(answers), [200, 200, 200])
})
