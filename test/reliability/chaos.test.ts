/**
 * Chaos (issue 6): constant load of idempotent requests (GET, HEAD, PUT with a small body,
 * DELETE) while a container is `docker kill`ed every few seconds and the healer replaces it:
 * no request may fail. Host ports 18200-18209.
 */
import t from 'tap'
import { Agent, request } from 'undici'
import { TEST_IMAGE, dockerClient, ensureEngineAndImage, serviceContainers, uniqueService } from '../helpers/docker'
import { startFleet } from '../fleet/harness'
import { sleep } from '../helpers/gateway'

ensureEngineAndImage()
const docker = dockerClient()
const SECONDS = Number(process.env.CHAOS_SECONDS ?? '60')

t.test(`${SECONDS} s of load while containers are killed every 3 s: zero failed requests`, async (t) => {
  const service = uniqueService('chaos')
  const gw = await startFleet(t, service, [
    '--image', TEST_IMAGE, '--base-port', '18200', '--min-containers', '3', '--max-containers', '3',
    '--fault-interval', '300ms'
  ])
  const agent = new Agent({ connections: 16 })
  t.teardown(() => agent.close())
  const plan: Array<[string, string | undefined]> = [['GET', undefined], ['HEAD', undefined], ['PUT', 'x'.repeat(512)], ['DELETE', undefined]]
  let ok = 0
  const failures = new Map<string, number>()
  const fail = (what: string): void => { failures.set(what, (failures.get(what) ?? 0) + 1) }
  const end = Date.now() + SECONDS * 1000
  const worker = async (w: number): Promise<void> => {
    for (let i = w; Date.now() < end; i++) {
      const [method, body] = plan[i % plan.length]
      try {
        const res = await request(`${gw.url}/echo?i=${i}`, { method, body, dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000 })
        await res.body.dump()
        if (res.statusCode === 200) ok++
        else fail(`${method} ${res.statusCode}`)
      } catch (err) {
        fail(`${method} ${(err as Error & { code?: string }).code ?? (err as Error).message}`)
      }
    }
  }
  const load = Promise.all(Array.from({ length: 12 }, (_, w) => worker(w)))
  let kills = 0
  while (Date.now() < end - 3000) {
    await sleep(3000)
    const running = (await serviceContainers(service)).filter((c) => c.running)
    if (running.length === 0) continue
    const victim = running[kills % running.length]
    await docker.getContainer(victim.id).kill().catch(() => {})
    kills++
  }
  await load
  // One kill per 3 s pause plus the Docker calls: at least one every 4 s even on a loaded machine.
  t.ok(kills >= Math.floor(SECONDS / 4), `${kills} containers killed`)
  t.ok(ok > 1000, `${ok} requests succeeded`)
  t.same(Object.fromEntries(failures), {}, 'no request failed')
  // A kill is seen through the engine's event or, when the probe wins the race, a failed probe.
  const byReason = Object.fromEntries(gw.fleet?.counters.replacements ?? [])
  const replaced = Object.values(byReason).reduce((a, b) => a + b, 0)
  t.ok(replaced >= kills - 1, `${replaced} replacements after ${kills} kills (${JSON.stringify(byReason)})`)
})
