/**
 * The main thread's ACME manager: per --acme-domain, serve what is on disk (or a placeholder),
 * order a certificate when there is none or it is due (src/tls/acme/policy.ts decides), hand the
 * result to the certificate set, and retry a failed order with a backoff. Nothing here ever
 * stops the gateway: a failed order is one log line and a count.
 *
 * Each name is in one state at a time:
 *   serving   a certificate is served and a timer waits for its renewal time
 *   ordering  an order is in flight (the current certificate, or the placeholder, is served)
 *   retrying  the last order failed; a timer waits out the backoff
 *   closed    close() was called: no timer, and an order still in flight is not served
 */
import type { Logger } from '../../log'
import { orderFailureReason, type AcmeOrderer } from './client'
import { createPlaceholder } from './placeholder'
import { DEFAULT_RENEWAL, MAX_TIMER_MS, decide, renewalTime, retryDelay, type RenewalParams } from './policy'
import type { AcmeStore, CertificatePaths } from './store'

/** What the manager needs of the main thread's certificate set (the pairs the HTTPS listener serves). */
export interface CertificateSink {
  /** Serve one more pair from now on, and reload it when its files change. */
  add (source: CertificatePaths): void
  /** Read the pairs again; new connections get what changed. */
  reload (why: string): void
}

export type NameState = 'serving' | 'ordering' | 'retrying' | 'closed'

const LEGAL: Readonly<Record<NameState, readonly NameState[]>> = {
  serving: ['ordering', 'closed'],
  ordering: ['serving', 'retrying', 'closed'],
  retrying: ['ordering', 'closed'],
  closed: []
}

/** Outcomes counted in symphony_acme_orders_total{outcome}. */
export type OrderOutcome = 'issued' | 'failed'

export interface AcmeManagerOptions {
  readonly domains: readonly string[]
  readonly store: AcmeStore
  readonly orderer: Pick<AcmeOrderer, 'order'>
  readonly sink: CertificateSink
  readonly log: Logger
  readonly renewal?: RenewalParams
  /** The clock (epoch ms); injectable so a test can stand at a certificate's renewal time. */
  readonly now?: () => number
}

interface NameEntry {
  readonly name: string
  state: NameState
  timer: NodeJS.Timeout | null
  /** Failed orders in a row (0 after a success). */
  failures: number
  /** When the next order is due (epoch ms), or null while one is in flight. */
  nextOrderAt: number | null
  lastError: string | null
}

export class AcmeManager {
  private readonly entries: NameEntry[]
  private readonly renewal: RenewalParams
  private readonly now: () => number
  readonly orders: Record<OrderOutcome, number> = { issued: 0, failed: 0 }
  private begun = false

  constructor (private readonly options: AcmeManagerOptions) {
    this.renewal = options.renewal ?? DEFAULT_RENEWAL
    this.now = options.now ?? Date.now
    this.entries = options.domains.map((name) => ({ name, state: 'serving', timer: null, failures: 0, nextOrderAt: null, lastError: null }))
  }

  /** serveStored(), then begin(). */
  async start (): Promise<void> {
    await this.serveStored()
    this.begin()
  }

  /**
   * Hands every name's pair to the certificate set: the stored certificate when it is usable,
   * else a placeholder (written over the unusable one).
   */
  async serveStored (): Promise<void> {
    const { store, sink, log } = this.options
    for (const entry of this.entries) {
      const { name } = entry
      const decision = decide(name, store.stored(name), this.now(), this.renewal)
      if (decision.kind === 'order') {
        store.saveCertificate(name, await createPlaceholder(name, store.certificateKey(name), this.now()))
        log.info('no usable certificate on disk: a placeholder is served until one is issued', { name, why: decision.why })
      } else {
        log.info('certificate from the state directory served', { name, notAfter: new Date(store.stored(name)?.notAfter ?? 0).toISOString() })
      }
      sink.add(store.paths(name))
    }
  }

  /** Arms each name's timer: at once where an order is due, else at its renewal time. Once. */
  begin (): void {
    if (this.begun) return
    this.begun = true
    for (const entry of this.entries) {
      if (entry.state === 'closed') continue
      const decision = decide(entry.name, this.options.store.stored(entry.name), this.now(), this.renewal)
      this.schedule(entry, decision.kind === 'serve' ? decision.renewAt : this.now())
    }
  }

  /** Each name's state and schedule, for /status and the metrics. */
  snapshot (): Array<{ name: string, state: NameState, failures: number, nextOrderAt: number | null, lastError: string | null }> {
    return this.entries.map(({ name, state, failures, nextOrderAt, lastError }) => ({ name, state, failures, nextOrderAt, lastError }))
  }

  /** Clears every timer; an order in flight finishes unseen (its certificate still reaches the disk). Idempotent. */
  close (): void {
    for (const entry of this.entries) {
      if (entry.state === 'closed') continue
      this.clearTimer(entry)
      transition(entry, 'closed')
    }
  }

  /** Arm the timer for the next order at `at`, in steps Node's timers can hold. */
  private schedule (entry: NameEntry, at: number): void {
    this.clearTimer(entry)
    entry.nextOrderAt = at
    const delay = Math.max(0, at - this.now())
    entry.timer = setTimeout(() => {
      entry.timer = null
      if (delay > MAX_TIMER_MS) this.schedule(entry, at)
      else void this.order(entry)
    }, Math.min(delay, MAX_TIMER_MS))
    entry.timer.unref()
  }

  private async order (entry: NameEntry): Promise<void> {
    const { name } = entry
    const { store, orderer, sink, log } = this.options
    transition(entry, 'ordering')
    entry.nextOrderAt = null
    let chain: string
    try {
      chain = await orderer.order(name)
    } catch (err) {
      if (entry.state === 'closed') return
      entry.failures++
      this.orders.failed++
      entry.lastError = orderFailureReason(err)
      const delay = retryDelay(entry.failures, this.renewal)
      log.error('acme order failed; retrying after a backoff, the gateway keeps serving', { code: 'SYM_ERR_ACME_ORDER', name, failures: entry.failures, retryInMs: delay, error: entry.lastError })
      transition(entry, 'retrying')
      this.schedule(entry, this.now() + delay)
      return
    }
    store.saveCertificate(name, chain)
    this.orders.issued++
    if (entry.state === 'closed') return
    entry.failures = 0
    entry.lastError = null
    sink.reload(`acme: certificate issued for ${name}`)
    const stored = store.stored(name)
    const renewAt = stored === null ? this.now() + this.renewal.retryInitialMs : renewalTime(stored, this.renewal)
    log.info('acme certificate issued', { name, notAfter: stored === null ? null : new Date(stored.notAfter).toISOString(), renewAt: new Date(renewAt).toISOString() })
    transition(entry, 'serving')
    this.schedule(entry, renewAt)
  }

  private clearTimer (entry: NameEntry): void {
    if (entry.timer !== null) clearTimeout(entry.timer)
    entry.timer = null
  }
}

/** Move `entry` to `to`, asserting the move is one of the legal ones. */
export function transition (entry: { state: NameState, readonly name: string }, to: NameState): void {
  if (!LEGAL[entry.state].includes(to)) throw new Error(`acme: illegal move of ${entry.name} from ${entry.state} to ${to}`)
  entry.state = to
}

/** The legal moves, for the table test. */
export const LEGAL_MOVES: Readonly<Record<NameState, readonly NameState[]>> = LEGAL
