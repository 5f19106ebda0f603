import { Piscina } from 'piscina'
import type serve from '../worker/serve'
import type { ServeTask } from '../worker/serve'

/** piscina's own option types: it exports the class, and these only as its parameters. */
type PoolOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>
type RunOptions = NonNullable<Parameters<Piscina['run']>[1]>

/** A piscina pool that runs the proxy's `serve` task: typed by the task and its result. */
export type ServePool = Piscina<ServeTask, Awaited<ReturnType<typeof serve>>>

/**
 * One thread for one long-lived task. piscina sizes a pool for many short tasks; here the task
 * is the thread's whole life, so the pool is held at exactly one thread that is never retired
 * for idleness, with room for that one task only. `atomics: 'disabled'`: piscina's idle workers
 * would otherwise park in `Atomics.wait` between tasks, which freezes a uWS event loop.
 */
const ONE_SERVE_TASK = {
  minThreads: 1,
  maxThreads: 1,
  idleTimeout: Number.POSITIVE_INFINITY,
  atomics: 'disabled',
  concurrentTasksPerWorker: 1,
  maxQueue: 1
} as const satisfies PoolOptions

/**
 * A pool hosting one attempt of one proxy thread, loading `filename` (the proxy's entry, or a
 * test's stand-in). `onError` hears piscina's 'error' event: it fires for a thread that fails
 * with no task on it (a bootstrap failure of a thread piscina started on its own after a death),
 * and unheard it would throw in the main thread. The task's own rejection is what supervision
 * acts on (src/gateway/proxy-threads.ts).
 */
export function servePool (filename: string, onError: (err: Error) => void): ServePool {
  const pool: ServePool = new Piscina({ ...ONE_SERVE_TASK, filename })
  pool.on('error', onError)
  return pool
}

/** Run `task` on `pool`, moving its control port into the thread. Settles when the thread's serve() ends. */
export function runServe (pool: ServePool, task: ServeTask): Promise<unknown> {
  const options: RunOptions = { transferList: [task.ctl] }
  return pool.run(task, options)
}
