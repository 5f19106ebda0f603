/**
 * The rollout's rules as a table (src/rollout/policy.ts): what to start, what to drain, when to
 * roll back and when it is done, for members in every relevant phase.
 */
import t from 'tap'
import type { MemberView } from '../../src/fleet/containers'
import { decide, failsMoreThanOld, previousImage, type Progress, type RolloutParams } from '../../src/rollout/policy'

const params: RolloutParams = { surge: 1, paceMs: 0, deadlineMs: 30_000, crashLoopFailures: 2, minFailures: 5, maxErrorExcess: 0.1 }
const NOW = 100_000

function m (port: number, image: string | null, phase: MemberView['phase'] = 'ready', failures = 0): MemberView {
  return { port, slot: port - 8000, phase, image, startedAt: 0, healthySince: phase === 'ready' ? 1 : null, failures }
}
function progress (pending: Array<[number, number]> = [], over: Partial<Progress> = {}): Progress {
  return { phase: 'rolling', target: 'new', pending: new Map(pending), nextStepAt: 0, ...over }
}

t.test('decide: the steps of a rollout', async (t) => {
  const rows: Array<[string, MemberView[], Progress, Partial<RolloutParams>, unknown]> = [
    ['three old: start one', [m(8000, 'old'), m(8001, 'old'), m(8002, 'old')], progress(), {},
      { kind: 'step', healthy: [], drain: [], start: 1, lost: [] }],
    ['surge 2: two at once', [m(8000, 'old'), m(8001, 'old'), m(8002, 'old')], progress(), { surge: 2 },
      { kind: 'step', start: 2 }],
    ['surge never past what is left to replace', [m(8000, 'old')], progress(), { surge: 3 },
      { kind: 'step', start: 1 }],
    ['one starting: wait for it', [m(8000, 'old'), m(8001, 'old'), m(8003, 'new', 'starting')], progress([[8003, NOW - 1000]]), {},
      { kind: 'step', healthy: [], drain: [], start: 0 }],
    ['it turned healthy: drain the highest ready old one and start the next', [m(8000, 'old'), m(8001, 'old'), m(8003, 'new')], progress([[8003, NOW - 1000]]), {},
      { kind: 'step', healthy: [8003], drain: [8001], start: 1 }],
    ['a ready old one goes before a starting one', [m(8000, 'old'), m(8001, 'old', 'starting'), m(8003, 'new')], progress([[8003, NOW - 1000]]), {},
      { kind: 'step', drain: [8000] }],
    ['with a pace, the next start waits', [m(8000, 'old'), m(8001, 'old'), m(8003, 'new')], progress([[8003, NOW - 1000]]), { paceMs: 5000 },
      { kind: 'step', healthy: [8003], drain: [8001], start: 0 }],
    ['pace elapsed: start', [m(8000, 'old'), m(8003, 'new')], progress([], { nextStepAt: NOW }), { paceMs: 5000 },
      { kind: 'step', start: 1 }],
    ['pace not elapsed: wait', [m(8000, 'old'), m(8003, 'new')], progress([], { nextStepAt: NOW + 1 }), { paceMs: 5000 },
      { kind: 'step', start: 0 }],
    ['last old one draining: not done until it is gone', [m(8000, 'old', 'draining'), m(8003, 'new')], progress(), {},
      { kind: 'step', start: 0, drain: [] }],
    ['every replica new: done', [m(8003, 'new'), m(8004, 'new', 'starting')], progress(), {}, { kind: 'done' }],
    ['an empty fleet is done', [], progress(), {}, { kind: 'done' }],
    ['a pending one that left (scaled down) is lost', [m(8000, 'old')], progress([[8003, NOW]]), {},
      { kind: 'step', lost: [8003], start: 1 }],
    ['a pending one being drained is lost', [m(8000, 'old'), m(8003, 'new', 'draining')], progress([[8003, NOW]]), {},
      { kind: 'step', lost: [8003] }],
    ['not healthy past the deadline: roll back', [m(8000, 'old'), m(8003, 'new', 'starting')], progress([[8003, NOW - 30_001]]), {},
      { kind: 'rollback', reason: 'deadline', port: 8003 }],
    ['at the deadline exactly: not yet', [m(8000, 'old'), m(8003, 'new', 'starting')], progress([[8003, NOW - 30_000]]), {},
      { kind: 'step', start: 0 }],
    ['replaced twice: crash loop', [m(8000, 'old'), m(8003, null, 'waiting', 2)], progress([[8003, NOW]]), {},
      { kind: 'rollback', reason: 'crash-loop', port: 8003 }],
    ['replaced once: not yet', [m(8000, 'old'), m(8003, null, 'waiting', 1)], progress([[8003, NOW]]), {},
      { kind: 'step', start: 0 }],
    ['rolling back: no deadline, no crash-loop verdict', [m(8000, 'new'), m(8003, 'old', 'starting', 5)], progress([[8003, 0]], { phase: 'rolling-back', target: 'old' }), {},
      { kind: 'step', start: 0 }],
    ['rolling back: the bad ones are the ones replaced', [m(8000, 'bad'), m(8001, 'old')], progress([], { phase: 'rolling-back', target: 'old' }), {},
      { kind: 'step', start: 1 }],
    ['a replica with no image yet (launching) is not counted as old', [m(8000, 'old'), m(8003, null, 'launching')], progress(), {}, { kind: 'step', start: 1 }],
    // Regression: a rollback ended while a start of the bad image begun just before it was still
    // in flight, and that container stayed (test/rollout/docker-rollout.test.ts caught it).
    ['not done while a replica is launching: its image is not known yet', [m(8003, 'new'), m(8004, null, 'launching')], progress(), {}, { kind: 'step', start: 0 }]
  ]
  for (const [name, members, p, over, want] of rows) t.match(decide(members, p, { ...params, ...over }, NOW), want, name)
})

t.test('failsMoreThanOld: judged on the failures, against the old version\'s ratio', async (t) => {
  const rows: Array<[string, [number, number], [number, number], boolean]> = [
    ['mostly 5xx, five failures', [6, 5], [100, 0], true],
    ['four failures: no verdict yet', [4, 4], [100, 0], false],
    ['a few failures among many requests: within 0.1 of the old ratio', [100, 5], [100, 0], false],
    ['as bad as the old one: no rollback', [20, 10], [20, 9], false],
    ['worse by more than 0.1', [20, 10], [20, 7], true],
    ['no old traffic: compared with 0', [10, 5], [0, 0], true]
  ]
  for (const [name, [fr, ff], [or, of], want] of rows) {
    t.equal(failsMoreThanOld({ requests: fr, failures: ff }, { requests: or, failures: of }, params), want, name)
  }
})

t.test('previousImage: what most of the others run', async (t) => {
  t.equal(previousImage([m(8000, 'a'), m(8001, 'b'), m(8002, 'b'), m(8003, 'new')], 'new'), 'b')
  t.equal(previousImage([m(8003, 'new'), m(8004, null, 'launching')], 'new'), null)
})
