import type { Config } from '../config/types'
import type { PlaneView } from '../control/plane'
import type { Logger } from '../log'
import { AutoscalerLoop } from '../autoscaler/loop'
import { ContainerFleet, waitUntilServing } from '../fleet/containers'
import { StaticFleet } from '../fleet/static'
import { HealthChecker, type StatusSink } from '../health/checker'
import type { Runtime } from '../runtime/types'
import type { SharedTable } from './table'

/** How long start-up waits for a first healthy replica before listening anyway (503 until then). */
const FIRST_HEALTHY_WAIT_MS = 30_000

/**
 * What keeps the table's slots true: the health checker, and with a runtime the replicas and
 * the autoscaler that sizes them. With static backends `fleet` and `loop` are null.
 */
export type Backends =
  | { readonly fleet: null, readonly loop: null, readonly health: HealthChecker }
  | { readonly fleet: ContainerFleet, readonly loop: AutoscalerLoop, readonly health: HealthChecker }

/** Start-up step 3a: build the fleet (or the static backends), the autoscaler and the health checker. */
export function createBackends (config: Config, runtime: Runtime | null, shared: SharedTable, plane: PlaneView, log: Logger): Backends {
  const healthOptions = {
    intervalMs: config.faultIntervalMs, timeoutMs: config.healthTimeoutMs, path: config.healthPath, unhealthyThreshold: config.unhealthyThreshold, log
  }
  if (runtime === null) {
    const sink: StatusSink = new StaticFleet(config.backends, shared.table, log)
    return { fleet: null, loop: null, health: new HealthChecker(healthOptions, sink) }
  }
  const fleet = new ContainerFleet({ runtime, table: shared.table, log, basePort: config.basePort, drainTimeoutMs: config.drainTimeoutMs, plane })
  const loop = new AutoscalerLoop({
    source: shared.sampler,
    target: fleet,
    params: { baseScaleCount: config.baseScaleCount, minContainers: config.minContainers, maxContainers: config.maxContainers, windowMs: config.windowMs },
    plane,
    log
  })
  return { fleet, loop, health: new HealthChecker(healthOptions, fleet) }
}

/**
 * Start-up step 3b: adopt or start replicas and begin health checks, waiting (at most
 * FIRST_HEALTHY_WAIT_MS) for a first healthy one; with static backends, one health round first,
 * so healthy backends serve from the first request.
 */
export async function startBackends ({ fleet, loop, health }: Backends, log: Logger): Promise<void> {
  if (fleet === null) {
    await health.checkNow()
    health.start()
    return
  }
  await fleet.start()
  // The first tick starts replicas up to --min-containers.
  await loop.start()
  health.start()
  if (!await waitUntilServing(fleet, () => health.checkNow(), FIRST_HEALTHY_WAIT_MS)) {
    log.warn('no replica healthy yet; listening anyway (503 until one is)', { waitedMs: FIRST_HEALTHY_WAIT_MS })
  }
}
