import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { Config } from '../config/types'
import type { ControlPlane } from '../control/plane'
import { DockerLeaseCarrier } from '../lease/docker'
import { Lease } from '../lease/lease'
import { SwarmLeaseCarrier } from '../lease/swarm'
import type { Logger } from '../log'
import type { Runtime } from '../runtime/types'

/**
 * Start-up step 1b: the service's lease (src/lease/), one per engine with the docker runtime and
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
    holder: { instance: randomUUID(), pid: process.pid, host: hostname(), admin: `${config.adminHost}:${config.adminPort}` },
    log,
    onLost: () => {
      if (plane.transition('lease-lost')) log.warn('control plane stands down: another instance controls the fleet', { event: 'plane', state: plane.state })
    }
  })
}
