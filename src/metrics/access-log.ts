import { W_ACCESS_DROPPED, W_ACCESS_ERRORS } from '../table/layout'
import type { CounterSampler } from './sampler'
import { SnapshotMetric } from './registry'

/**
 * The access log's metrics (--access-log, docs/logs.md), from the proxy threads' words in the
 * shared table at scrape time. Registered next to the others by the composition root; kept
 * apart from registry.ts so that each can change without the other.
 */
export function accessLogMetrics (sampler: CounterSampler): SnapshotMetric[] {
  return [
    new SnapshotMetric('symphony_access_log_dropped_lines_total', 'Access log lines dropped: the disk fell more than a buffer behind, or a write failed (--access-log).', 'counter', () => {
      sampler.sample()
      return [{ value: sampler.workerTotal(W_ACCESS_DROPPED), labels: {} }]
    }),
    new SnapshotMetric('symphony_access_log_errors_total', 'Access log writes and opens that failed (a full disk, a file made unwritable); each failed call once, not each line.', 'counter', () => {
      sampler.sample()
      return [{ value: sampler.workerTotal(W_ACCESS_ERRORS), labels: {} }]
    })
  ]
}
