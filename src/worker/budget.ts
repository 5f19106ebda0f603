/**
 * Retry budget (Envoy's and Finagle's idea): retries may add at most `ratio` of the traffic, plus
 * a small floor per second so that a quiet gateway can still retry. When a whole fleet is dying,
 * every request failing, retries stop at that share instead of doubling the load on what is left.
 * Per worker thread, no allocation. Tokens are counted in thousandths, so 5 requests at 0.2 earn
 * exactly one retry (floating point would make it 0.99999…).
 */
export class RetryBudget {
  private milli: number
  private readonly earn: number
  private readonly floor: number
  private readonly cap: number

  /**
   * @param ratio retries allowed per request (0.2: one retry per five requests)
   * @param floorPerSecond retries always allowed per second, whatever the traffic
   * @param cap most retries saved up (bounds a burst of retries after a quiet spell)
   */
  constructor (ratio = 0.2, floorPerSecond = 10, cap = 100) {
    this.earn = Math.round(ratio * 1000)
    this.floor = floorPerSecond * 1000
    this.cap = cap * 1000
    this.milli = this.floor
  }

  /** A request arrived: it earns `ratio` of a retry. */
  deposit (): void {
    const t = this.milli + this.earn
    this.milli = t > this.cap ? this.cap : t
  }

  /** Once a second (the worker's maintenance tick): the floor. */
  refill (): void {
    if (this.milli < this.floor) this.milli = this.floor
  }

  /** Take one retry if the budget allows it. */
  tryWithdraw (): boolean {
    if (this.milli < 1000) return false
    this.milli -= 1000
    return true
  }
}
