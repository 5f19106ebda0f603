/**
 * The lease's expiry rule, judged by the reader on its own clock: a counter that moves is a live
 * holder, one that stays put for the TTL an expired lease, a new ref a new lease.
 */
import t from 'tap'
import { observe, type Watch } from '../../src/lease/expiry'
import type { LeaseRecord } from '../../src/lease/carrier'

const holder = { instance: 'i', pid: 1, host: 'h', admin: '127.0.0.1:9090' }
const rec = (ref: string, beat: number): LeaseRecord => ({ ref, holder, beat, version: 0 })
const TTL = 5000

t.test('readings folded in order', async (t) => {
  const rows: Array<{ what: string, readings: Array<[string, number, number]>, verdicts: string[] }> = [
    { what: 'first reading: watching', readings: [['a', 3, 0]], verdicts: ['watching'] },
    { what: 'counter moved: alive', readings: [['a', 3, 0], ['a', 4, 250]], verdicts: ['watching', 'alive'] },
    { what: 'still for less than the TTL: watching', readings: [['a', 3, 0], ['a', 3, 4999]], verdicts: ['watching', 'watching'] },
    { what: 'still for the TTL: expired', readings: [['a', 3, 0], ['a', 3, 2500], ['a', 3, 5000]], verdicts: ['watching', 'watching', 'expired'] },
    { what: 'a new ref starts over', readings: [['a', 3, 0], ['b', 3, 6000], ['b', 3, 10999], ['b', 3, 11000]], verdicts: ['watching', 'watching', 'watching', 'expired'] },
    { what: 'a wrapped counter is a move', readings: [['a', 999_999, 0], ['a', 0, 1000]], verdicts: ['watching', 'alive'] }
  ]
  for (const row of rows) {
    let watch: Watch | null = null
    const got: string[] = []
    for (const [ref, beat, now] of row.readings) {
      const r = observe(watch, rec(ref, beat), now, TTL)
      watch = r.watch
      got.push(r.verdict)
    }
    t.same(got, row.verdicts, row.what)
  }
})
