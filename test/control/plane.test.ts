/**
 * The control plane's state machine: every legal path walked, every illegal move refused, and a
 * plane that stopped acting never acts again.
 */
import t from 'tap'
import { ControlPlane, type PlaneState } from '../../src/control/plane'

const states: PlaneState[] = ['acting', 'stopping', 'lease-lost', 'handing-over']

/** Moves that change the state (others are no-ops or bugs). */
const legal = new Set(['acting>stopping', 'acting>lease-lost', 'lease-lost>stopping', 'acting>handing-over', 'handing-over>stopping', 'handing-over>acting'])
/** Moves that are accepted without effect: the same state again, and a lease lost while stopping. */
const noop = new Set(['acting>acting', 'stopping>stopping', 'lease-lost>lease-lost', 'stopping>lease-lost', 'handing-over>handing-over', 'stopping>handing-over'])

/** A plane put into `state` through legal moves. */
function planeIn (state: PlaneState): ControlPlane {
  const p = new ControlPlane(0)
  if (state === 'stopping') p.transition('stopping', 1)
  if (state === 'lease-lost') p.transition('lease-lost', 1)
  if (state === 'handing-over') p.transition('handing-over', 1)
  return p
}

t.test('every pair of states: legal moves change it, repeats are no-ops, going back to acting throws', async (t) => {
  for (const from of states) {
    for (const to of states) {
      const p = planeIn(from)
      const key = `${from}>${to}`
      if (legal.has(key)) {
        t.equal(p.transition(to, 5), true, key)
        t.equal(p.state, to, `${key}: state`)
        t.equal(p.since, 5, `${key}: since`)
      } else if (noop.has(key)) {
        t.equal(p.transition(to, 5), false, `${key}: no change`)
        t.equal(p.state, from, `${key}: state kept`)
      } else {
        t.throws(() => p.transition(to, 5), /illegal move/, `${key}: refused`)
        t.equal(p.state, from, `${key}: state kept`)
      }
    }
  }
})

t.test('only acting acts; the longest path ends in stopping', async (t) => {
  const p = new ControlPlane(0)
  t.equal(p.acts(), true)
  p.transition('lease-lost')
  t.equal(p.acts(), false)
  p.transition('stopping')
  t.equal(p.acts(), false)
  t.equal(p.state, 'stopping')
})
