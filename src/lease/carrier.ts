/**
 * Where a service's lease lives: an object the engine (or the swarm) creates atomically by name,
 * so that of two instances creating it at once exactly one succeeds, and which its holder can
 * renew. src/lease/docker.ts and src/lease/swarm.ts are the two carriers; src/lease/lease.ts
 * acquires, renews and releases through this interface only.
 */

/** Who holds a lease: enough for the refused instance's one line to name it. */
export interface Holder {
  /** Random per process: tells two holders apart even with the same pid on two hosts. */
  readonly instance: string
  readonly pid: number
  readonly host: string
  /**
   * Where another instance reaches the holder's admin API (host:port): as configured, except a
   * wildcard host with --runtime swarm, which is recorded as the holder's overlay address
   * (advertisedAdmin()), since another task's loopback is its own.
   */
  readonly admin: string
}

/** A lease as read from its carrier. */
export interface LeaseRecord {
  /** The carrier object's id: a removal or renewal by id can never touch a newer lease. */
  readonly ref: string
  readonly holder: Holder
  /** The holder's renewal counter: it moves once per renewal, so a reader sees the holder live. */
  readonly beat: number
  /** The carrier's own version of the object (swarm's version index), 0 where it has none. */
  readonly version: number
}

export interface LeaseCarrier {
  /** What and where the lease is, for log lines and messages (`container symphony-lease-api`). */
  readonly describe: string
  /** The current lease, or null when none exists. */
  read (): Promise<LeaseRecord | null>
  /** Create the lease for `holder`; null when another instance created it first. */
  create (holder: Holder): Promise<LeaseRecord | null>
  /** Renew `record` with the counter `beat`; null when it is gone or no longer ours (lost). */
  renew (record: LeaseRecord, beat: number): Promise<LeaseRecord | null>
  /** Remove the lease `record` (by its ref; one already gone is fine). */
  remove (record: LeaseRecord): Promise<void>
}

/** The carrier object's name for `service`: one per service, so creating it is the lock. */
export function leaseName (service: string): string {
  return `symphony-lease-${service}`
}

/** Label keys on the carrier object. */
export const LEASE_LABELS = {
  service: 'io.symphony.lease',
  instance: 'io.symphony.lease.instance',
  pid: 'io.symphony.lease.pid',
  host: 'io.symphony.lease.host',
  admin: 'io.symphony.lease.admin',
  beat: 'io.symphony.lease.beat'
} as const

/** The labels that record `holder` for `service`. */
export function holderLabels (service: string, holder: Holder): Record<string, string> {
  return {
    [LEASE_LABELS.service]: service,
    [LEASE_LABELS.instance]: holder.instance,
    [LEASE_LABELS.pid]: String(holder.pid),
    [LEASE_LABELS.host]: holder.host,
    [LEASE_LABELS.admin]: holder.admin
  }
}

/** The holder recorded in `labels` (fields absent read as unknown, never throw). */
export function holderFromLabels (labels: Record<string, string> | undefined): Holder {
  const l = labels ?? {}
  return {
    instance: l[LEASE_LABELS.instance] ?? '?',
    pid: Number(l[LEASE_LABELS.pid] ?? 0),
    host: l[LEASE_LABELS.host] ?? '?',
    admin: l[LEASE_LABELS.admin] ?? '?'
  }
}

/**
 * The admin address a lease records: `host:port` as configured, but a wildcard host (`0.0.0.0`,
 * `::`, empty) with an address where other instances reach this one (the swarm runtime's own
 * address on the overlay) becomes that address. Without one (docker runtime, processes on one
 * host) the wildcard stays, and the takeover client dials loopback (src/takeover/client.ts).
 */
export function advertisedAdmin (adminHost: string, port: number, peerAddress: string | null): string {
  const wildcard = adminHost === '0.0.0.0' || adminHost === '::' || adminHost === ''
  return `${wildcard && peerAddress !== null ? peerAddress : adminHost}:${port}`
}
