/**
 * The gateway's own view of each replica's answers, for a rollout's analysis: per slot, requests
 * answered and failed, read from the workers' per-backend statistics blocks
 * (src/table/layout.ts, BSTATS) through the counter sampler, as the metrics read them.
 */
import type { CounterSampler } from '../metrics/sampler'
import { ErrorReason, methodNames, STATUS_CLASSES } from '../table/layout'
import type { Answers } from './policy'

const CLASS_5XX = 4
/** Failures that are the replica's doing; a client abort is not. */
const FAILED_REASONS = [ErrorReason.CONNECT, ErrorReason.TIMEOUT, ErrorReason.RESET, ErrorReason.PROTOCOL, ErrorReason.OTHER]

/** Totals of one slot since the gateway started (the sampler's running totals). */
export function slotAnswers (sampler: CounterSampler, slot: number): Answers {
  let answered = 0
  let failures = 0
  for (let m = 0; m < methodNames.length; m++) {
    for (let c = 0; c < STATUS_CLASSES; c++) answered += sampler.responses(slot, m, c)
    failures += sampler.responses(slot, m, CLASS_5XX)
  }
  // A 5xx answer discarded for a retry on an old replica (src/worker/retry.ts) is one the new
  // version failed, though no client saw it.
  let errors = sampler.discarded(slot)
  for (const r of FAILED_REASONS) errors += sampler.errors(slot, r)
  return { requests: answered + errors, failures: failures + errors }
}

/** Per-slot movement between two reads: what a replica answered over one tick. */
export class AnswerDeltas {
  readonly #last = new Map<number, Answers>()

  constructor (private readonly sampler: CounterSampler) {}

  /** Fold the workers' counters in, then the movement of `slot` since the last call for it. */
  since (slot: number): Answers {
    const now = slotAnswers(this.sampler, slot)
    const before = this.#last.get(slot) ?? now
    this.#last.set(slot, now)
    return { requests: now.requests - before.requests, failures: now.failures - before.failures }
  }

  /** Fold the workers' counters into the sampler's totals (once per tick). */
  sample (): void { this.sampler.sample() }
}
