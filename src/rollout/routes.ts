/**
 * The admin API's side of rollouts: `GET /rollout` (the one in progress, or the last) and
 * `POST /rollout` with `{"image":"IMAGE"}` (begin one), and `symphony_rollouts_total`.
 */
import { Counter, type Registry } from 'prom-client'
import { bodyField, type AdminAnswer, type AdminRoute } from '../admin/server'
import { AdminErrorCodes, ImageUnavailableError, RolloutRunningError, RolloutUnsupportedError, SymphonyError } from '../errors'
import type { CounterSampler } from '../metrics/sampler'
import { W_TRIAL_RETRIES } from '../table/layout'
import { rolloutOutcomes, type RolloutController } from './controller'

const json = (status: number, body: unknown): AdminAnswer => ({ status, type: 'application/json', body: JSON.stringify(body) })
const error = (status: number, code: string, message: string): AdminAnswer => json(status, { error: { code, message } })

/** The /rollout route; `rollouts` is null with fixed backends (every POST is refused, 409). */
export function rolloutRoute (rollouts: RolloutController | null): AdminRoute {
  return {
    GET: () => json(200, { rollout: rollouts?.status() ?? null }),
    POST: async (body) => {
      const image = bodyField(body, 'image')
      if (typeof image !== 'string' || !/^\S+$/.test(image)) {
        return error(400, AdminErrorCodes.BAD_REQUEST, 'POST /rollout needs a JSON body {"image":"IMAGE"} naming the image to roll to')
      }
      if (rollouts === null) {
        const e = new RolloutUnsupportedError('this symphony proxies fixed --backend targets, which it does not start: it has no replicas to roll; deploy to those backends by their own means')
        return error(409, e.code, e.message)
      }
      try {
        return json(202, { rollout: await rollouts.deploy(image) })
      } catch (err) {
        if (err instanceof ImageUnavailableError) return error(422, err.code, err.message)
        if (err instanceof RolloutRunningError || err instanceof RolloutUnsupportedError) return error(409, err.code, err.message)
        if (err instanceof SymphonyError) return error(503, err.code, err.message)
        throw err
      }
    }
  }
}

/**
 * `symphony_rollouts_total{outcome}`: every outcome from the start, at 0; and
 * `symphony_rollout_retries_total`: the proxy threads' count of 5xx answers from replicas on
 * trial that were discarded and retried on a settled replica (W_TRIAL_RETRIES).
 */
export function registerRolloutMetrics (registry: Registry, rollouts: RolloutController, sampler: CounterSampler): void {
  // eslint-disable-next-line no-new
  new Counter({
    name: 'symphony_rollout_retries_total',
    help: 'Idempotent requests whose 500/502/503/504 answer from a replica of the version being rolled out was discarded and that were sent to a replica of the old version (docs/deploy.md).',
    registers: [registry],
    collect () {
      sampler.sample()
      this.reset()
      this.inc(sampler.workerTotal(W_TRIAL_RETRIES))
    }
  })
  // eslint-disable-next-line no-new
  new Counter({
    name: 'symphony_rollouts_total',
    help: 'Rollouts ended, by outcome (succeeded, rolled-back, stopped: symphony stopped during one).',
    labelNames: ['outcome'],
    registers: [registry],
    collect () {
      this.reset()
      for (const outcome of rolloutOutcomes) this.inc({ outcome }, rollouts.outcomes.get(outcome) ?? 0)
    }
  })
}
