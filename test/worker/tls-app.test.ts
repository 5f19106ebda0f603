import t from 'tap'
import { coveredBy } from '../../src/worker/tls-app'

t.test('which SNI names the default certificate covers (the others are counted as unknown)', async (t) => {
  const names = ['a.test', '*.b.test']
  const cases: Array<[string, boolean]> = [
    ['a.test', true],
    ['A.Test', true],
    ['www.a.test', false],
    ['x.b.test', true],
    ['b.test', false],
    ['x.y.b.test', false],
    ['.b.test', false],
    ['c.test', false],
    ['', false]
  ]
  for (const [host, covered] of cases) t.equal(coveredBy(names, host), covered, `${JSON.stringify(host)}: ${covered ? 'covered' : 'unknown'}`)
})
