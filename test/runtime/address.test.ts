import t from 'tap'
import { containerAddress } from '../../src/runtime/address'

const ID = 'f3a1c2d4e5b6a7980123456789abcdef0123456789abcdef0123456789abcdef'

t.test('containerAddress picks the named network, the default bridge, or nothing', async (t) => {
  const both = { Networks: { bridge: { IPAddress: '172.17.0.5', NetworkID: 'b'.repeat(64) }, orders: { IPAddress: '172.20.0.3', NetworkID: ID } } }
  const cases: Array<[string, Parameters<typeof containerAddress>[0], string | null, string | null]> = [
    ['default bridge', both, null, '172.17.0.5'],
    ['named network', both, 'orders', '172.20.0.3'],
    ['network by full id', both, ID, '172.20.0.3'],
    ['network by 12-char id prefix', both, ID.slice(0, 12), '172.20.0.3'],
    ['short prefix is not an id', both, ID.slice(0, 6), null],
    ['not attached to that network', both, 'payments', null],
    ['stopped: empty address', { Networks: { bridge: { IPAddress: '' } } }, null, null],
    ['--network host', { Networks: { host: { IPAddress: '' } } }, 'host', null],
    ['old engine: top-level address only', { IPAddress: '172.17.0.9' }, null, '172.17.0.9'],
    ['no settings', undefined, null, null]
  ]
  for (const [name, settings, network, want] of cases) t.equal(containerAddress(settings, network), want, name)
})
