import type { AcmeManager } from '../tls/acme/manager'
import { SnapshotMetric } from './registry'

/**
 * ACME's metrics (docs/https.md), read from the manager at scrape time. The time left on each
 * certificate is the HTTPS listener's expiry gauge, which covers ACME's certificates like any
 * other; these say how ordering goes.
 */
export function acmeMetrics (manager: Pick<AcmeManager, 'orders' | 'snapshot'>): SnapshotMetric[] {
  return [
    new SnapshotMetric('symphony_acme_orders_total', 'ACME orders finished, by outcome: issued, or failed (logged with the CA\'s reason, retried with a backoff).', 'counter', () =>
      (['issued', 'failed'] as const).map((outcome) => ({ value: manager.orders[outcome], labels: { outcome } }))),
    new SnapshotMetric('symphony_acme_next_order_timestamp_seconds', 'When the next ACME order for a name is due (a renewal, or the retry after a failure), in Unix seconds; absent while one is in flight.', 'gauge', () =>
      manager.snapshot().filter((n) => n.nextOrderAt !== null).map((n) => ({ value: Math.round((n.nextOrderAt ?? 0) / 1000), labels: { name: n.name } }))),
    new SnapshotMetric('symphony_acme_failed_orders_in_a_row', 'Failed ACME orders for a name since its last success (0 when the last one succeeded).', 'gauge', () =>
      manager.snapshot().map((n) => ({ value: n.failures, labels: { name: n.name } })))
  ]
}
