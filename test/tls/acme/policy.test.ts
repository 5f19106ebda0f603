import t from 'tap'
import { DEFAULT_RENEWAL, decide, renewalTime, retryDelay, type StoredCertificateInfo } from '../../../src/tls/acme/policy'
import { LEGAL_MOVES, transition, type NameState } from '../../../src/tls/acme/manager'

const DAY = 24 * 3600_000
const cert = (notBefore: number, days: number, names = ['a.example'], placeholder = false): StoredCertificateInfo => ({ notBefore, notAfter: notBefore + days * DAY, names, placeholder })

t.test('renewal time: a third of the lifetime before expiry', async (t) => {
  t.equal(renewalTime(cert(0, 90), DEFAULT_RENEWAL), 60 * DAY, '90-day certificate: renewed with 30 days left')
  t.equal(renewalTime(cert(1000, 6), DEFAULT_RENEWAL), 1000 + 4 * DAY, 'six-day certificate: 2 days left')
  t.equal(renewalTime({ notBefore: 10, notAfter: 5 }, DEFAULT_RENEWAL), 5, 'a nonsense validity renews at its end, not after')
})

t.test('decide', async (t) => {
  const c = cert(0, 90)
  const cases: Array<[string, StoredCertificateInfo | null, number, ReturnType<typeof decide>]> = [
    ['nothing on disk', null, 0, { kind: 'order', why: 'missing' }],
    ['a placeholder counts as nothing', cert(0, 7, ['a.example'], true), DAY, { kind: 'order', why: 'missing' }],
    ['another name', cert(0, 90, ['b.example']), DAY, { kind: 'order', why: 'other-name' }],
    ['fresh', c, DAY, { kind: 'serve', renewAt: 60 * DAY }],
    ['one ms before the renewal time', c, 60 * DAY - 1, { kind: 'serve', renewAt: 60 * DAY }],
    ['at the renewal time', c, 60 * DAY, { kind: 'renew' }],
    ['one ms before expiry', c, 90 * DAY - 1, { kind: 'renew' }],
    ['at expiry', c, 90 * DAY, { kind: 'order', why: 'expired' }]
  ]
  for (const [what, stored, now, want] of cases) t.same(decide('a.example', stored, now, DEFAULT_RENEWAL), want, what)
})

t.test('retry delays: one minute doubling to six hours', async (t) => {
  const minutes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 2000].map((n) => retryDelay(n, DEFAULT_RENEWAL) / 60_000)
  t.same(minutes, [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360])
  t.equal(retryDelay(0, DEFAULT_RENEWAL), 60_000, 'a count below one is read as one')
})

t.test('name states: every legal move passes, every other throws', async (t) => {
  const states = Object.keys(LEGAL_MOVES) as NameState[]
  for (const from of states) {
    for (const to of states) {
      const entry = { name: 'a.example', state: from }
      if (LEGAL_MOVES[from].includes(to)) {
        transition(entry, to)
        t.equal(entry.state, to, `${from} -> ${to}`)
      } else {
        t.throws(() => transition(entry, to), /illegal move/, `${from} -> ${to} refused`)
      }
    }
  }
})
