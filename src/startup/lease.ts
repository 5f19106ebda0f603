import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { AdminServer } from '../admin/server'
import type { Config } from '../config/types'
import { ListenError } from '../errors'
import type { ControlPlane } from '../control/plane'
import { DockerLeaseCarrier } from '../lease/docker'
import { Lease } from '../lease/lease'
import { SwarmLeaseCarrier } from '../lease/swarm'
import { advertisedAdmin } from '../lease/carrier'
import type { Logger } from '../log'
import type { Runtime } from '../runtime/types'
import { TakeoverError } from '../errors'
import type { AutoscalerLoop } from '../autoscaler/loop'
import { beginTakeover, finishTakeover, type Begun } from '../takeover/client'
import { Handover } from '../takeover/handover'

/** The new instance's side of --takeover, as the start-up drives it. */
export interface Takeover {
  /** Before the lease is taken: the holder hands over (its window seeds the autoscaler). */
  begin (): Promise<void>
  /** Once this instance serves: the old one drains. */
  finish (): Promise<void>
}

/**
 * Start-up step 2c: with --takeover, the steps that take the service over from its lease's
 * holder; null without. --takeover without a lease (static backends, --runtime process) is a
 * TakeoverError: there is no control plane to hand over.
 */
export function createTakeover (config: Config, lease: Lease | null, loop: AutoscalerLoop | null, log: Logger): Takeover | null {
  if (!config.takeover) return null
  if (lease === null || loop === null) throw new TakeoverError('--takeover hands over a service\'s lease, which only --image with the docker or swarm runtime has; start without --takeover')
  let begun: Begun | null = null
  return {
    begin: async () => {
      begun = await beginTakeover(lease, config.service, config.adminToken)
      loop.seedWindow(begun.window)
      log.info('takeover: the running instance handed over', { event: 'takeover', step: 'begun', from: begun.from.admin, pid: begun.from.pid, windowCount: begun.window.reduce((a, b) => a + b, 0) })
    },
    finish: async () => {
      if (begun === null) return
      try {
        await finishTakeover(begun, config.service, config.adminToken)
        log.info('takeover: the old instance drains', { event: 'takeover', step: 'finished', from: begun.from.admin })
      } catch (err) {
        // This one serves and holds the lease: the old one drains by itself after its deadline.
        log.warn('takeover: the old instance was not told to drain; it will when its hand-over deadline passes', { event: 'takeover', error: (err as Error).message })
      }
    }
  }
}

/** The running instance's side: the /takeover route's state (null without a lease). */
export function createHandover (config: Config, lease: Lease | null, loop: AutoscalerLoop | null, plane: ControlPlane, log: Logger, adminPort: () => number, runtime: Runtime | null = null): Handover | null {
  if (lease === null || loop === null) return null
  return new Handover({ plane, lease, log, window: () => loop.windowCounts(), admin: () => advertisedAdmin(config.adminHost, adminPort(), runtime?.peerAddress ?? null) })
}

/**
 * Start-up step 2b: the service's lease (src/lease/), one per engine with the docker runtime and
 * one per swarm with --runtime swarm; not yet taken (Lease.acquire() is the first thing the start
 * does). Null with static backends and with --runtime process, whose replicas are this host's
 * own child processes. Losing the lease later makes the control plane stand down.
 */
export function createLease (config: Config, runtime: Runtime | null, plane: ControlPlane, log: Logger): Lease | null {
  if (runtime === null || config.image === null || (runtime.kind !== 'docker' && runtime.kind !== 'swarm')) return null
  const carrier = runtime.kind === 'swarm' ? new SwarmLeaseCarrier(config.service) : new DockerLeaseCarrier(config.service, config.image)
  return new Lease({
    carrier,
    service: config.service,
    holder: { instance: randomUUID(), pid: process.pid, host: hostname() },
    log,
    onLost: () => {
      if (plane.transition('lease-lost')) log.warn('control plane stands down: another instance controls the fleet', { event: 'plane', state: plane.state })
    }
  })
}

/**
 * Start-up step 4b: the admin listener binds, then the lease is taken in the name of its address
 * (the refused instance's line names where to reach the holder; on Swarm the task's overlay
 * address for a wildcard --admin-host, so that a new task's --takeover reaches it). An admin port that is taken is
 * most often the running instance's own: then the line says so (exit 20) rather than only that
 * the port is taken (exit 5). Resolves with the admin port.
 */
export async function listenAndLease (admin: AdminServer, config: Config, lease: Lease | null, takeover: Takeover | null = null, runtime: Runtime | null = null): Promise<number> {
  let adminPort: number
  try {
    adminPort = await admin.listen(config.adminHost, config.adminPort)
  } catch (err) {
    if (err instanceof ListenError) await lease?.refuseIfHeld()
    throw err
  }
  // --takeover: the holder stops its loops and releases the lease before this one takes it.
  await takeover?.begin()
  await lease?.acquire(advertisedAdmin(config.adminHost, adminPort, runtime?.peerAddress ?? null))
  return adminPort
}
