/**
 * When a lease has expired, judged by its reader alone. Pure: time comes in as an argument.
 *
 * The reader never compares its clock with the holder's (they may be on two hosts): it watches
 * the holder's renewal counter on its own clock. A counter that moves means a live holder; one
 * that stays put for `ttlMs` of the reader's time means a holder that is gone (SIGKILL, a crash,
 * a lost host), and the lease is free to take.
 */
import type { LeaseRecord } from './carrier'

/** What the reader has seen of one lease so far. */
export interface Watch {
  readonly ref: string
  readonly beat: number
  /** Reader's clock (ms) when it first saw this ref with this counter. */
  readonly since: number
}

export type Verdict =
  /** The counter moved: the holder renews. */
  | 'alive'
  /** Not moved yet, for less than ttlMs: look again. */
  | 'watching'
  /** Not moved for ttlMs: the holder is gone. */
  | 'expired'

/**
 * Fold one more reading of the lease into `watch` (null: none yet). A lease with another ref is
 * a new lease (removed and created again meanwhile): its watch starts over.
 */
export function observe (watch: Watch | null, record: LeaseRecord, now: number, ttlMs: number): { watch: Watch, verdict: Verdict } {
  if (watch === null || watch.ref !== record.ref) {
    return { watch: { ref: record.ref, beat: record.beat, since: now }, verdict: 'watching' }
  }
  if (record.beat !== watch.beat) return { watch, verdict: 'alive' }
  return { watch, verdict: now - watch.since >= ttlMs ? 'expired' : 'watching' }
}
