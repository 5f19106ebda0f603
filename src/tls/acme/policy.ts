/**
 * When to order a certificate, as plain arithmetic: no clock, no disk, no network. The manager
 * (src/tls/acme/manager.ts) passes the time and what it found on disk in and schedules what
 * comes out.
 */

/** What is known of a stored certificate for one name. */
export interface StoredCertificateInfo {
  /** Epoch ms. */
  readonly notBefore: number
  readonly notAfter: number
  /** The DNS names it covers (lowercase). */
  readonly names: readonly string[]
  /** symphony's own self-signed stand-in, served until the first certificate is issued. */
  readonly placeholder: boolean
}

export interface RenewalParams {
  /**
   * Renew when this fraction of the lifetime is left: a third, as Let's Encrypt advises (30 days
   * of a 90-day certificate), which leaves weeks to retry a failing order before clients see an
   * expired certificate.
   */
  readonly renewWhenLeft: number
  /** Delay before the retry that follows the first failed order; doubles from there. */
  readonly retryInitialMs: number
  readonly retryMaxMs: number
}

/**
 * The defaults. Retries start at one minute and double up to six hours: Let's Encrypt allows 5
 * failed validations per account, name and hour, so quicker retries would only hit its limit.
 */
export const DEFAULT_RENEWAL: RenewalParams = Object.freeze({ renewWhenLeft: 1 / 3, retryInitialMs: 60_000, retryMaxMs: 6 * 3600_000 })

/** The moment (epoch ms) a certificate is due for renewal. */
export function renewalTime (cert: Pick<StoredCertificateInfo, 'notBefore' | 'notAfter'>, p: RenewalParams): number {
  const lifetime = Math.max(0, cert.notAfter - cert.notBefore)
  return cert.notAfter - Math.floor(lifetime * p.renewWhenLeft)
}

export type Decision =
  /** Serve it; order again at `renewAt`. */
  | { readonly kind: 'serve', readonly renewAt: number }
  /** Serve it while a new one is ordered now (it is still valid, but due). */
  | { readonly kind: 'renew' }
  /** Nothing usable on disk (none, expired, or not for this name): order now. */
  | { readonly kind: 'order', readonly why: 'missing' | 'expired' | 'other-name' }

/** What to do about `name` given what is on disk (`null`: nothing) at `now`. */
export function decide (name: string, stored: StoredCertificateInfo | null, now: number, p: RenewalParams): Decision {
  if (stored === null || stored.placeholder) return { kind: 'order', why: 'missing' }
  if (!stored.names.includes(name)) return { kind: 'order', why: 'other-name' }
  if (now >= stored.notAfter) return { kind: 'order', why: 'expired' }
  const renewAt = renewalTime(stored, p)
  return now >= renewAt ? { kind: 'renew' } : { kind: 'serve', renewAt }
}

/** Delay before the next order after `failures` (≥ 1) failed ones in a row. */
export function retryDelay (failures: number, p: RenewalParams): number {
  // Cap the exponent too: 2 ** 1100 is Infinity.
  return Math.min(p.retryMaxMs, p.retryInitialMs * 2 ** Math.min(Math.max(failures, 1) - 1, 40))
}

/**
 * Node's setTimeout fires at once for delays above 2^31-1 ms (about 24.8 days, with a warning):
 * a renewal two months ahead is reached in steps of at most this, deciding again at each.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1
