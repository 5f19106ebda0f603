import { W_ACME_CHALLENGES, W_REDIRECTS, W_TLS_SWAP_FAILED, W_TLS_UNKNOWN_NAME } from '../table/layout'
import type { CertificateSet } from '../tls/certificate-set'
import type { CounterSampler } from './sampler'
import { SnapshotMetric, type Value } from './registry'

/**
 * HTTPS metrics (docs/https.md, docs/metrics.md): certificate expiry per name and reloads from
 * the main thread's certificate set, the rest from the proxy threads' words at scrape time.
 */
export function tlsMetrics (sampler: CounterSampler, set: CertificateSet): SnapshotMetric[] {
  const total = (word: number): Value[] => {
    sampler.sample()
    return [{ value: sampler.workerTotal(word), labels: {} }]
  }
  return [
    new SnapshotMetric('symphony_tls_certificate_expiry_timestamp_seconds', 'When the certificate served for each name expires (Unix time); alert on it minus time().', 'gauge', () =>
      [...set.expiries()].map(([name, ms]) => ({ value: Math.floor(ms / 1000), labels: { name } }))),
    new SnapshotMetric('symphony_tls_certificate_reloads_total', 'Reloads (file change, SIGHUP) that changed a served certificate.', 'counter', () => [{ value: set.reloads, labels: {} }]),
    new SnapshotMetric('symphony_tls_certificate_reload_failures_total', 'Reloads that kept the certificate in use, by reason: file (missing, unreadable, not PEM), key_mismatch, thread (a proxy thread could not take the new certificates).', 'counter', () => {
      sampler.sample()
      return [
        { value: set.failures.file, labels: { reason: 'file' } },
        { value: set.failures.key_mismatch, labels: { reason: 'key_mismatch' } },
        { value: sampler.workerTotal(W_TLS_SWAP_FAILED), labels: { reason: 'thread' } }
      ]
    }),
    new SnapshotMetric('symphony_tls_unknown_server_names_total', 'TLS client hellos naming a server name no certificate has (SNI); they are offered the default certificate.', 'counter', () => total(W_TLS_UNKNOWN_NAME)),
    new SnapshotMetric('symphony_http_redirects_total', 'Requests on --http-port answered 308 to HTTPS.', 'counter', () => total(W_REDIRECTS)),
    new SnapshotMetric('symphony_acme_challenge_requests_total', 'HTTP-01 challenge requests on --http-port (answered 200 or 404).', 'counter', () => total(W_ACME_CHALLENGES))
  ]
}
