import t from 'tap'
import { WorkerLiveness } from '../../src/admin/liveness'
import { createTableBuffer, workerBase, W_HEARTBEAT } from '../../src/table/layout'

t.test('liveness: a start-up longer than the stale window does not make /healthz fail once threads start', async (t) => {
  const sab = createTableBuffer()
  const i32 = new Int32Array(sab)
  const live = new WorkerLiveness(sab, 2, 3000)
  t.same(live.stale(1000), [], 'first look: nothing stale')
  // The table is sampled every second from the start, while the gateway waits for a replica.
  t.same(live.stale(6000), [0, 1], 'no thread beats before threads exist: stale (the bug, had nothing reset it)')
  live.started(6000)
  t.same(live.stale(6100), [], 'threads just started: not stale before their first beat is due')
  Atomics.add(i32, workerBase(0) + W_HEARTBEAT, 1)
  t.same(live.stale(7000), [], 'thread 0 beat')
  t.same(live.stale(9500), [1], 'thread 1 never beat in 3.5 s: stale')
  t.same(live.stale(10200), [0, 1], 'thread 0 stopped beating too')
})
