import type { ProbeResult } from './probe'

/**
 * What one probe result means for a backend, given the timeouts in a row before it:
 * - `pass`: a 200; the streak of timeouts ends.
 * - `fail`: a definite failure (another status, a refused or reset connection, any other error),
 *   or the `threshold`-th timeout in a row: the caller takes the backend out (or replaces it).
 * - `tolerate`: a timeout below the threshold; the backend stays as it is.
 *
 * Why timeouts alone are counted: a non-200 answer or a refused connection is the backend
 * saying it is broken, and waiting would only keep traffic on it. A late answer is what every
 * replica gives during a CPU spike; replacing on the first one destroys capacity exactly when it
 * is scarcest (HAProxy's `fall 3`, Kubernetes' `failureThreshold: 3`, Traefik issue 12390).
 * A backend that stops answering altogether is still failed after `threshold` intervals.
 */
export type Verdict = 'pass' | 'fail' | 'tolerate'

export interface Judgement {
  readonly verdict: Verdict
  /** Timeouts in a row, this result included (0 after anything but a timeout). */
  readonly timeouts: number
}

export function judge (result: ProbeResult, timeoutsBefore: number, threshold: number): Judgement {
  if (result.ok) return { verdict: 'pass', timeouts: 0 }
  if (result.reason !== 'timeout') return { verdict: 'fail', timeouts: 0 }
  const timeouts = timeoutsBefore + 1
  return { verdict: timeouts >= threshold ? 'fail' : 'tolerate', timeouts }
}
