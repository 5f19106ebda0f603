/**
 * The lease's Swarm carrier on a real single-node swarm: a config created once by name, renewed
 * with its version index, a renewal on a stale version refused, and through Lease: a live holder
 * refuses a second instance, a holder that stops renewing expires after the TTL, a removed lease
 * is a lost one. In-process (the carrier and Lease need no overlay). Serial: `docker swarm init`
 * changes the engine every other test uses; the swarm is left again only when this file made it.
 */
import t from 'tap'
import { LeaseHeldError } from '../../src/errors'
import { leaseName, type Holder } from '../../src/lease/carrier'
import { Lease } from '../../src/lease/lease'
import { SwarmLeaseCarrier } from '../../src/lease/swarm'
import { createLogger } from '../../src/log'
import { dockerClient, ensureEngineAndImage, uniqueService, waitFor } from '../helpers/docker'
import { ensureSwarm } from '../helpers/swarm'

ensureEngineAndImage()

const holder = (n: number): Holder => ({ instance: `i${n}`, pid: 1000 + n, host: `h${n}`, admin: `127.0.0.1:${9000 + n}` })
const quiet = createLogger('error', () => {})

t.test('swarm lease', async (t) => {
  await ensureSwarm(t)
  const service = uniqueService('swlease')
  t.teardown(() => dockerClient().getConfig(leaseName(service)).remove().catch(() => {}))
  const carrier = new SwarmLeaseCarrier(service)

  t.test('the carrier: one create wins, renewals move the counter and the version, a stale version is refused', async (t) => {
    t.equal(await carrier.read(), null, 'no lease yet')
    const [a, b] = await Promise.all([carrier.create(holder(1)), carrier.create(holder(2))])
    t.equal([a, b].filter((x) => x !== null).length, 1, 'of two creates at once, one wins')
    const mine = (a ?? b)!
    const renewed = await carrier.renew(mine, 1)
    t.equal(renewed?.beat, 1)
    t.ok((renewed?.version ?? 0) > mine.version, 'the version index moved')
    t.equal((await carrier.read())?.beat, 1, 'a reader sees the counter')
    // Someone else (a newer holder) updated it meanwhile: an update at the old version fails, and
    // since the config still names the same instance, the failure is an error, not a loss.
    await t.rejects(carrier.renew(mine, 2), 'a renewal on a stale version is refused')
    await carrier.remove(renewed!)
    t.equal(await carrier.read(), null, 'removed')
    t.equal(await carrier.renew(renewed!, 3), null, 'renewing a removed lease: lost')
  })

  t.test('Lease: a live holder refuses a second; a silent one expires; a removed one is lost', async (t) => {
    let lost = 0
    const first = new Lease({ carrier, holder: holder(1), service, log: quiet, onLost: () => { lost++ } })
    t.teardown(() => first.release())
    await first.acquire('127.0.0.1:9001')
    const second = new Lease({ carrier, holder: holder(2), service, log: quiet, onLost: () => {} })
    await t.rejects(second.acquire('127.0.0.1:9002'), LeaseHeldError)
    await t.rejects(new Lease({ carrier, holder: holder(2), service, log: quiet, onLost: () => {} }).acquire('127.0.0.1:9002'),
      { message: new RegExp(`^service "${service}" is already controlled by symphony pid 1001 on h1 \\(admin 127\\.0\\.0\\.1:9001; lease swarm config ${leaseName(service)}`) })

    // A holder that stops renewing (as after a SIGKILL): a private Lease that never renews.
    await first.release()
    t.equal(await carrier.read(), null, 'release removes it')
    const silent = await carrier.create(holder(3))
    t.ok(silent !== null)
    const ttlMs = 1500
    const third = new Lease({ carrier, holder: holder(4), service, log: quiet, onLost: () => {}, ttlMs })
    const startedAt = Date.now()
    await third.acquire('127.0.0.1:9004')
    const waited = Date.now() - startedAt
    t.ok(waited >= ttlMs, `took it after ${waited} ms (TTL ${ttlMs} ms)`)
    t.equal((await carrier.read())?.holder.instance, 'i4', 'the lease names the new holder')

    // Removed under a holder (a newcomer that saw it expire): the holder's next renewal finds it lost.
    let fourthLost = 0
    const fourth = new Lease({ carrier, holder: holder(5), service, log: quiet, onLost: () => { fourthLost++ } })
    await third.release()
    await fourth.acquire('127.0.0.1:9005')
    await carrier.remove((await carrier.read())!)
    await waitFor('lease-lost', async () => fourthLost === 1 ? true : undefined, 5000, 50)
    await fourth.release()
    t.equal(lost, 0, 'the first never lost its lease')
  })
})
