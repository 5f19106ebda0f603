import type { Config, ThreadTls } from '../config/types'
import type { Logger } from '../log'
import { CertificateSet } from '../tls/certificate-set'

/** What start-up hands on for HTTPS: the certificate set (main thread) and the threads' part. */
export interface TlsParts {
  readonly certificates: CertificateSet
  /** The threads' part, as the set is now (ACME adds its pairs after openTls, before the threads start). */
  threads (): ThreadTls
}

/**
 * Start-up step: read and check --tls-cert/--tls-key (exit 9 or 10 before anything listens) and
 * watch their folders. Null without --tls-cert and --acme-domain: plain HTTP. An expired certificate starts with a
 * warning naming its date: refusing to start would turn a missed renewal into an outage of the
 * names of every other certificate too.
 */
export function openTls (config: Config, log: Logger, acmeChallengeDir: string | null, now = Date.now()): TlsParts | null {
  if (config.tlsCerts.length === 0 && acmeChallengeDir === null) return null
  const sources = config.tlsCerts.map((certFile, i) => ({ certFile, keyFile: config.tlsKeys[i] }))
  const certificates = new CertificateSet(sources, { log })
  for (const c of certificates.checked) {
    if (c.notAfter <= now) {
      log.warn(`certificate expired on ${new Date(c.notAfter).toISOString()}; clients will refuse it until it is renewed`, { certFile: c.certFile, names: c.names, notAfter: new Date(c.notAfter).toISOString() })
    }
  }
  return { certificates, threads: () => ({ certificates: certificates.certificates(), acmeChallengeDir }) }
}
