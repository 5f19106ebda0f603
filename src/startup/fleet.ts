import type { Config } from '../config/types'
import type { PlaneView } from '../control/plane'
import type { Logger } from '../log'
import { AutoscalerLoop } from '../autoscaler/loop'
import { ContainerFleet, waitUntilServing } from '../fleet/containers'
import { StaticFleet } from '../fleet/static'
import { HealthChecker, type StatusSink } from '../health/checker'
import type { Runtime } from '../runtime/types'
import { RolloutController } from '../rollout/controller'
import type { RolloutParams } from '../rollout/policy'
import type { SharedTable } from './table'

/** How long start-up waits for a first healthy replica before listening anyway (503 until then). */
const FIRST_HEALTHY_WAIT_MS = 30_000

/**
 * What keeps the table's slots true: the health checker, and with a runtime the replicas and
 * the autoscaler that sizes them. With static backends `fleet` and `loop` are null.
 */
export type Backends =
  | { readonly fleet: null, readonly loop: null, readonly rollouts: null, readonly health: HealthChecker }
  | { readonly fleet: ContainerFleet, readonly loop: AutoscalerLoop, readonly rollouts: RolloutController, readonly health: HealthChecker }

/** The rollout rules' tunables from the options, and the fixed ones (docs/deploy.md#rollback). */
export function rolloutParams (config: Config): RolloutParams {
  return { surge: config.rolloutSurge, paceMs: config.rolloutPaceMs, deadlineMs: config.rolloutDeadlineMs, crashLoopFailures: 2, minFailures: 5, maxErrorExcess: 0.1 }
}

/** Start-up step 3a: build the fleet (or the static backends), the autoscaler and the health checker. */
export function createBackends (config: Config, runtime: Runtime | null, shared: SharedTable, plane: PlaneView, log: Logger): Backends {
  const healthOptions = {
    intervalMs: config.faultIntervalMs, timeoutMs: config.healthTimeoutMs, path: config.healthPath, unhealthyThreshold: config.unhealthyThreshold, log
  }
  if (runtime === null) {
    const sink: StatusSink = new StaticFleet(config.backends, shared.table, log)
    return { fleet: null, loop: null, rollouts: null, health: new HealthChecker(healthOptions, sink) }
  }
  const fleet = new ContainerFleet({ runtime, table: shared.table, log, basePort: config.basePort, drainTimeoutMs: config.drainTimeoutMs, plane })
  const rollouts = new RolloutController({ fleet, runtime, sampler: shared.sampler, log, params: rolloutParams(config), image: config.runtime === 'process' ? null : config.image })
  const loop = new AutoscalerLoop({
    source: shared.sampler,
    // A rollout's new replicas not yet healthy stand in for old ones still serving: not counted.
    target: {
      counts: () => {
        const c = fleet.counts()
        return { running: c.running, starting: c.starting - Math.min(c.starting, rollouts.surging()) }
      },
      scaleUp: (n) => fleet.scaleUp(n),
      scaleDown: (n) => fleet.scaleDown(n),
      tick: () => fleet.tick()
    },
    params: { baseScaleCount: config.baseScaleCount, minContainers: config.minContainers, maxContainers: config.maxContainers, windowMs: config.windowMs },
    plane,
    log
  })
  return { fleet, loop, rollouts, health: new HealthChecker(healthOptions, fleet) }
}

/**
 * Start-up step 3b: adopt or start replicas and begin health checks, waiting (at most
 * FIRST_HEALTHY_WAIT_MS) for a first healthy one; with static backends, one health round first,
 * so healthy backends serve from the first request.
 */
export async function startBackends ({ fleet, loop, rollouts, health }: Backends, log: Logger): Promise<void> {
  if (fleet === null) {
    await health.checkNow()
    health.start()
    return
  }
  await rollouts.init()
  await fleet.start()
  // Adopted replicas of another image than --image: roll them (a restart converges).
  rollouts.start()
  // The first tick starts replicas up to --min-containers.
  await loop.start()
  health.start()
  if (!await waitUntilServing(fleet, () => health.checkNow(), FIRST_HEALTHY_WAIT_MS)) {
    log.warn('no replica healthy yet; listening anyway (503 until one is)', { waitedMs: FIRST_HEALTHY_WAIT_MS })
  }
}
