import { WorkerLiveness } from '../admin/liveness'
import { CounterSampler } from '../metrics/sampler'
import { createTableBuffer } from '../table/layout'
import { TableWriter } from '../table/writer'

/** The shared backend table and the main thread's readers of its counters. */
export interface SharedTable {
  readonly sab: SharedArrayBuffer
  /** The only writer of the table (src/table/writer.ts). */
  readonly table: TableWriter
  readonly sampler: CounterSampler
  /** The workers' heartbeats, for /healthz. */
  readonly liveness: WorkerLiveness
  /** Stop the sampling timer. Idempotent. */
  close (): void
}

/**
 * Start-up step 2: the SharedArrayBuffer the proxy threads read, its writer, and a 1 s timer that
 * samples the wrapping u32 counters so they can never wrap unseen.
 */
export function openTable (threads: number): SharedTable {
  const sab = createTableBuffer()
  const sampler = new CounterSampler(sab)
  const liveness = new WorkerLiveness(sab, threads)
  const timer = setInterval(() => { sampler.sample(); liveness.stale(Date.now()) }, 1000)
  timer.unref()
  return { sab, table: new TableWriter(sab), sampler, liveness, close: () => clearInterval(timer) }
}
