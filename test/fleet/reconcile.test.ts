/** The pure rules of reconciliation and of the replacement backoff, row by row. */
import t from 'tap'
import { planReconcile, type MemberSnapshot, type ReconcileAction } from '../../src/fleet/reconcile'
import { backoffDelay } from '../../src/backoff'
import type { Replica } from '../../src/runtime/types'

const r = (id: string, port: number, running = true): Replica => ({ id, name: `n-${port}`, key: port, address: { host: '127.0.0.1', port }, startedAt: 0, running })
const sw = (id: string, key: number): Replica => ({ id, name: `n-${key}`, key, address: { host: `10.0.1.${key - 90}`, port: 80 }, startedAt: 0, running: true })
const m = (port: number, phase: MemberSnapshot['phase'], replicaId: string | null, knownSince = 0): MemberSnapshot => ({ port, phase, replicaId, knownSince })
const inRange = (port: number): boolean => port >= 100 && port < 356
const LISTED_AT = 1000

t.test('planReconcile', async (t) => {
  const rows: Array<[string, MemberSnapshot[], Replica[], ReconcileAction[]]> = [
    ['nothing on either side', [], [], []],
    ['agreement', [m(100, 'ready', 'a')], [r('a', 100)], []],
    ['start-up: a running replica is adopted', [], [r('a', 100)], [{ kind: 'adopt', replica: r('a', 100) }]],
    ['an exited leftover is removed', [], [r('a', 100, false)], [{ kind: 'remove', replica: r('a', 100, false), why: 'exited' }]],
    ['outside the slot range (below base port)', [], [r('a', 99)], [{ kind: 'remove', replica: r('a', 99), why: 'outside-range' }]],
    ['outside the slot range (slot 256)', [], [r('a', 356)], [{ kind: 'remove', replica: r('a', 356), why: 'outside-range' }]],
    ['two running on one port: one adopted, one removed', [], [r('a', 100), r('b', 100)],
      [{ kind: 'adopt', replica: r('a', 100) }, { kind: 'remove', replica: r('b', 100), why: 'duplicate' }]],
    ['a member\'s replica vanished', [m(100, 'ready', 'a')], [], [{ kind: 'lost', port: 100, reason: 'missing' }]],
    ['a member\'s replica died unseen', [m(100, 'starting', 'a')], [r('a', 100, false)], [{ kind: 'lost', port: 100, reason: 'exited' }]],
    ['a replica learned after the list was asked for is not judged', [m(100, 'ready', 'a', LISTED_AT)], [], []],
    ['members being stopped or drained are not judged', [m(100, 'stopping', 'a'), m(101, 'draining', 'b'), m(102, 'waiting', 'c')], [], []],
    ['an unknown replica beside a member is a duplicate', [m(100, 'ready', 'a')], [r('a', 100), r('x', 100)],
      [{ kind: 'remove', replica: r('x', 100), why: 'duplicate' }]],
    ['an unknown replica where a start is in flight is left alone', [m(100, 'launching', null)], [r('x', 100)], []],
    ['a waiting member gets the replica its lost start created', [m(100, 'waiting', null)], [r('x', 100)],
      [{ kind: 'attach', port: 100, replica: r('x', 100) }]],
    // Swarm replicas all listen on the container port at their own overlay address: the key, not
    // the address's port, says which member a replica belongs to.
    ['keys, not address ports: replicas on one container port are adopted per key', [m(100, 'ready', 'a')], [sw('a', 100), sw('b', 101)],
      [{ kind: 'adopt', replica: sw('b', 101) }]],
    ['a waiting member still holding its old replica: the unknown one is a duplicate', [m(100, 'waiting', 'a')], [r('a', 100, false), r('x', 100)],
      [{ kind: 'remove', replica: r('x', 100), why: 'duplicate' }]]
  ]
  for (const [what, members, listed, want] of rows) t.same(planReconcile(members, listed, LISTED_AT, inRange), want, what)
})

t.test('backoffDelay', async (t) => {
  const p = { initialMs: 1000, maxMs: 60_000, resetAfterMs: 30_000 }
  const rows: Array<[number, number]> = [[0, 0], [1, 0], [2, 1000], [3, 2000], [4, 4000], [7, 32_000], [8, 60_000], [50, 60_000], [5000, 60_000]]
  for (const [failures, delay] of rows) t.equal(backoffDelay(failures, p), delay, `${failures} failures → ${delay} ms`)
})
