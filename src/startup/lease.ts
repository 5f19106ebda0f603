import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { AdminServer } from '../admin/server'
import type { Config } from '../config/types'
import { ListenError } from '../errors'
import type { ControlPlane } from '../control/plane'
import { DockerLeaseCarrier } from '../lease/docker'
import { Lease } from '../lease/lease'
import { SwarmLeaseCarrier } from '../lease/swarm'
import type { Logger } from '../log'
import type { Runtime } from '../runtime/types'

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
 * (the refused instance's line names where to reach the holder). An admin port that is taken is
 * most often the running instance's own: then the line says so (exit 20) rather than only that
 * the port is taken (exit 5). Resolves with the admin port.
 */
export async function listenAndLease (admin: AdminServer, config: Config, lease: Lease | null): Promise<number> {
  let adminPort: number
  try {
    adminPort = await admin.listen(config.adminHost, config.adminPort)
  } catch (err) {
    if (err instanceof ListenError) await lease?.refuseIfHeld()
    throw err
  }
  await lease?.acquire(`${config.adminHost}:${adminPort}`)
  return adminPort
}
