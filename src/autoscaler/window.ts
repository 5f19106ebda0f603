/**
 * The sliding request window: one slot per second, summed by a running total, so each tick costs
 * O(1) whatever the window's length and nothing is allocated after construction. The autoscaler
 * loop pushes the count of the second that just ended; total() is the count over the window.
 */
export class RingWindow {
  /** Float64: integer counts stay exact up to 2^53, so the running total never drifts. */
  readonly #slots: Float64Array
  #next = 0
  #total = 0

  /** @param seconds number of one-second slots (at least 1) */
  constructor (seconds: number) {
    if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError(`window needs at least one whole second, got ${seconds}`)
    this.#slots = new Float64Array(seconds)
  }

  /** Number of seconds the window covers. */
  get seconds (): number { return this.#slots.length }

  /** Record the count of the second that just ended; the oldest second rolls off. */
  push (countThisSecond: number): void {
    const i = this.#next
    this.#total += countThisSecond - this.#slots[i]!
    this.#slots[i] = countThisSecond
    this.#next = i + 1 === this.#slots.length ? 0 : i + 1
  }

  /** Sum of the last `seconds` pushes (fewer while the window is filling). */
  total (): number {
    return this.#total
  }

  /** The counts in the window, oldest first (what a takeover hands to the next instance). */
  counts (): number[] {
    const n = this.#slots.length
    const out: number[] = []
    for (let i = 0; i < n; i++) out.push(this.#slots[(this.#next + i) % n]!)
    return out
  }

  /**
   * Replace the window with `counts` (oldest first), as handed over by the instance this one
   * takes over from: its last seconds, the newest kept where the two windows' lengths differ.
   */
  seed (counts: readonly number[]): void {
    this.reset()
    for (const c of counts.slice(-this.#slots.length)) this.push(Number.isFinite(c) && c >= 0 ? c : 0)
  }

  /** Forget everything (the counts start again from zero). */
  reset (): void {
    this.#slots.fill(0)
    this.#total = 0
    this.#next = 0
  }
}

/** A window of ceil(windowMs / 1000) one-second slots, at least one. */
export function ringWindow (windowMs: number): RingWindow {
  return new RingWindow(Math.max(1, Math.ceil(windowMs / 1000)))
}
