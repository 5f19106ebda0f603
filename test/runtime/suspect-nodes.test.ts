/** The node-loss policy (issue 23, point 5): which nodes replacements are kept away from, as a table. */
import t from 'tap'
import { avoidConstraints, suspectNodes, type NodeFailure, type SuspicionInput } from '../../src/runtime/suspect-nodes'

const P = { windowMs: 2000, holdMs: 60_000 }
const NOW = 100_000

interface Row {
  readonly name: string
  readonly placed: Record<string, string>
  readonly failures: Record<string, NodeFailure>
  readonly doubts?: Record<string, NodeFailure>
  readonly states?: Record<string, string>
  readonly suspects?: Record<string, number>
  readonly want: Record<string, number>
}

const ready = { n1: 'ready', n2: 'ready', n3: 'ready' }
const rows: Row[] = [
  { name: 'nothing failed: no suspect', placed: { a: 'n1', b: 'n2' }, failures: {}, want: {} },
  { name: 'every replica on n2 failed within the window, n1 serves: n2 suspected now', placed: { a: 'n1', b: 'n2', c: 'n2' }, failures: { b: { node: 'n2', at: NOW - 1500 }, c: { node: 'n2', at: NOW } }, want: { n2: NOW } },
  { name: 'one of two replicas on n2 failed: not suspected (an application crash)', placed: { a: 'n1', b: 'n2', c: 'n2' }, failures: { b: { node: 'n2', at: NOW } }, want: {} },
  { name: 'the first failure is outside the window: not suspected', placed: { a: 'n1', b: 'n2', c: 'n2' }, failures: { b: { node: 'n2', at: NOW - 2001 }, c: { node: 'n2', at: NOW } }, want: {} },
  { name: 'failed replicas already removed count through their failures', placed: { a: 'n1', c: 'n2' }, failures: { b: { node: 'n2', at: NOW - 500 }, c: { node: 'n2', at: NOW } }, want: { n2: NOW } },
  { name: 'a node\'s only replica failed, another node serves: suspected', placed: { a: 'n1', b: 'n2' }, failures: { b: { node: 'n2', at: NOW } }, want: { n2: NOW } },
  { name: 'every replica failed on every node: no suspect (nowhere known to be better)', placed: { a: 'n1', b: 'n2' }, failures: { a: { node: 'n1', at: NOW }, b: { node: 'n2', at: NOW } }, want: {} },
  { name: 'the only other node is itself suspected: no second suspect', placed: { a: 'n1', b: 'n2' }, failures: { b: { node: 'n2', at: NOW } }, suspects: { n1: NOW - 1000 }, want: { n1: NOW - 1000 } },
  { name: 'the node serving elsewhere is not ready in Swarm\'s view: no suspect', placed: { a: 'n1', b: 'n2' }, failures: { b: { node: 'n2', at: NOW } }, states: { n1: 'down', n2: 'ready' }, want: {} },
  { name: 'Swarm already marks the node down: Swarm\'s own view is enough', placed: { a: 'n1', b: 'n2' }, failures: { b: { node: 'n2', at: NOW } }, states: { n1: 'ready', n2: 'down' }, want: {} },
  { name: 'a suspect is kept within the hold while Swarm says ready', placed: { a: 'n1' }, failures: {}, suspects: { n2: NOW - 59_999 }, want: { n2: NOW - 59_999 } },
  { name: 'the hold ends the suspicion', placed: { a: 'n1' }, failures: {}, suspects: { n2: NOW - 60_000 }, want: {} },
  { name: 'Swarm marks the suspect down: lifted', placed: { a: 'n1' }, failures: {}, states: { n1: 'ready', n2: 'down' }, suspects: { n2: NOW - 5000 }, want: {} },
  { name: 'Swarm marks the suspect disconnected: lifted', placed: { a: 'n1' }, failures: {}, states: { n1: 'ready', n2: 'disconnected' }, suspects: { n2: NOW - 5000 }, want: {} },
  { name: 'the suspect left the swarm (not listed): lifted', placed: { a: 'n1' }, failures: {}, states: { n1: 'ready' }, suspects: { n2: NOW - 5000 }, want: {} },
  { name: 'a suspect keeps its time when its failures repeat', placed: { a: 'n1' }, failures: { b: { node: 'n2', at: NOW } }, suspects: { n2: NOW - 5000 }, want: { n2: NOW - 5000 } },
  { name: 'two nodes lost at once, a third serves: both suspected', placed: { a: 'n1', b: 'n2', c: 'n3' }, failures: { b: { node: 'n2', at: NOW - 100 }, c: { node: 'n3', at: NOW } }, want: { n2: NOW, n3: NOW } },
  { name: 'a failure dated in the future (clock step) is ignored', placed: { a: 'n1', b: 'n2' }, failures: { b: { node: 'n2', at: NOW + 10 } }, want: {} },
  { name: 'two replicas on n2 failed, the third timed out once (doubted): n2 suspected now', placed: { a: 'n1', b: 'n2', c: 'n2', d: 'n2' }, failures: { b: { node: 'n2', at: NOW - 1000 }, c: { node: 'n2', at: NOW - 990 } }, doubts: { d: { node: 'n2', at: NOW } }, want: { n2: NOW } },
  { name: 'the same without the doubt: not suspected (the third still serves)', placed: { a: 'n1', b: 'n2', c: 'n2', d: 'n2' }, failures: { b: { node: 'n2', at: NOW - 1000 }, c: { node: 'n2', at: NOW - 990 } }, want: {} },
  { name: 'every replica on n2 only doubted, none failed: not suspected (a slow moment, not a loss)', placed: { a: 'n1', b: 'n2', c: 'n2' }, failures: {}, doubts: { b: { node: 'n2', at: NOW }, c: { node: 'n2', at: NOW } }, want: {} },
  { name: 'a doubt outside the window does not count', placed: { a: 'n1', b: 'n2', c: 'n2' }, failures: { b: { node: 'n2', at: NOW } }, doubts: { c: { node: 'n2', at: NOW - 2001 } }, want: {} },
  { name: 'a doubt on the serving node elsewhere: that node no longer counts as serving, no suspect', placed: { a: 'n1', b: 'n2' }, failures: { b: { node: 'n2', at: NOW } }, doubts: { a: { node: 'n1', at: NOW } }, want: {} },
  { name: 'a failure of a replica whose node is unknown to Swarm: not suspected', placed: { a: 'n1', b: 'n9' }, failures: { b: { node: 'n9', at: NOW } }, want: {} }
]

for (const r of rows) {
  t.test(r.name, async (t) => {
    const input: SuspicionInput = {
      now: NOW,
      placed: new Map(Object.entries(r.placed)),
      failures: new Map(Object.entries(r.failures)),
      ...(r.doubts !== undefined ? { doubts: new Map(Object.entries(r.doubts)) } : {}),
      nodeStates: new Map(Object.entries(r.states ?? ready)),
      suspects: new Map(Object.entries(r.suspects ?? {}))
    }
    t.same(Object.fromEntries(suspectNodes(input, P)), r.want)
  })
}

t.test('the inputs are not changed', async (t) => {
  const suspects = new Map([['n2', NOW - 70_000]])
  suspectNodes({ now: NOW, placed: new Map(), failures: new Map(), nodeStates: new Map(Object.entries(ready)), suspects }, P)
  t.same(Object.fromEntries(suspects), { n2: NOW - 70_000 })
})

t.test('avoidConstraints: one node.id!= constraint per suspect, in a stable order', async (t) => {
  t.same(avoidConstraints([]), [])
  t.same(avoidConstraints(['zz', 'aa']), ['node.id!=aa', 'node.id!=zz'])
})
