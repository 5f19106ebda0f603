/**
 * `symphony remove` and the service's lease (src/lease/): a lease that its holder still renews
 * means a symphony manages the service, so removal is refused (exit 22) naming the holder; a
 * lease left by a holder that is gone (SIGKILL, a crash) is something symphony created for the
 * service, so it is removed with the replicas. The same expiry rule as a starting instance
 * (src/lease/expiry.ts): the counter watched on this process's clock for the lease's TTL.
 */
import { StillManagedError } from '../errors'
import type { LeaseCarrier, LeaseRecord } from '../lease/carrier'
import { observe, type Watch } from '../lease/expiry'
import { LEASE_RENEW_MS, LEASE_TTL_MS } from '../lease/lease'

/** Before anything is removed: exit 22 when the lease is renewed; the stale lease to remove afterwards, or null. */
export async function staleLease (carrier: LeaseCarrier, service: string): Promise<LeaseRecord | null> {
  let watch: Watch | null = null
  for (;;) {
    const record = await carrier.read()
    if (record === null) return null
    const seen = observe(watch, record, Date.now(), LEASE_TTL_MS)
    watch = seen.watch
    if (seen.verdict === 'expired') return record
    if (seen.verdict === 'alive') {
      const h = record.holder
      throw new StillManagedError(`service ${service} is still managed: its lease (${carrier.describe}) is renewed by pid ${h.pid} on ${h.host}, admin ${h.admin}; stop that symphony first, then run symphony remove again`)
    }
    await new Promise((resolve) => setTimeout(resolve, LEASE_RENEW_MS / 2))
  }
}
