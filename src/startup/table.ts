import { WorkerLiveness } from '../admin/liveness'
import { MainIdleRelease } from '../memory/idle-release'
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
  /** The main thread's idle release (src/memory/idle-release.ts), ticked by the same timer. */
  readonly idleRelease: MainIdleRelease
  /** Stop the sampling timer. Idempotent. */
  close (): void
}

/**
 * Start-up step 2: the SharedArrayBuffer the proxy threads read, its writer, and a 1 s timer that
 * samples the wrapping u32 counters so they can never wrap unseen, and with the request total
 * it has just folded, looks whether the main thread has turned idle and should give memory back.
 */
export function openTable (threads: number): SharedTable {
  const sab = createTableBuffer()
  const sampler = new CounterSampler(sab)
  const liveness = new WorkerLiveness(sab, threads)
  const idleRelease = new MainIdleRelease(sampler.requests())
  const timer = setInterval(() => {
    sampler.sample()
    liveness.stale(Date.now())
    idleRelease.tick(sampler.requests(), performance.now())
  }, 1000)
  timer.unref()
  return { sab, table: new TableWriter(sab), sampler, liveness, idleRelease, close: () => clearInterval(timer) }
}
