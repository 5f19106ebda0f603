/** Addresses on overlays: a task's attachment, subnet membership, this process's own address. */
import t from 'tap'
import { inSubnet, localAddressIn, overlayAddress } from '../../src/runtime/overlay'

t.test('overlayAddress: the address on the given network, without the prefix length', async (t) => {
  const attachments = [
    { Network: { ID: 'ingress' }, Addresses: ['10.255.0.7/16'] },
    { Network: { ID: 'net1' }, Addresses: ['10.0.1.5/24'] }
  ]
  t.equal(overlayAddress(attachments, 'net1'), '10.0.1.5')
  t.equal(overlayAddress(attachments, 'other'), null, 'not attached')
  t.equal(overlayAddress([{ Network: { ID: 'net1' } }], 'net1'), null, 'not allocated yet')
  t.equal(overlayAddress(undefined, 'net1'), null, 'no attachments at all (a task not yet scheduled)')
})

t.test('inSubnet', async (t) => {
  const rows: Array<[string, string, boolean]> = [
    ['10.0.1.5', '10.0.1.0/24', true], ['10.0.2.5', '10.0.1.0/24', false], ['10.0.1.255', '10.0.1.0/24', true],
    ['10.0.1.5', '10.0.0.0/16', true], ['11.0.1.5', '10.0.0.0/8', false], ['1.2.3.4', '0.0.0.0/0', true],
    ['10.0.1.5', '10.0.1.5/32', true], ['10.0.1.6', '10.0.1.5', false], ['fd00::1', 'fd00::/64', false], ['10.0.1.5', '10.0.1.0/33', false]
  ]
  for (const [ip, cidr, want] of rows) t.equal(inSubnet(ip, cidr), want, `${ip} in ${cidr}: ${String(want)}`)
})

t.test('localAddressIn: the first IPv4 interface address inside a subnet', async (t) => {
  const ifaces = {
    lo: [{ address: '127.0.0.1', family: 'IPv4' }],
    eth0: [{ address: '172.17.0.4', family: 'IPv4' }, { address: 'fe80::1', family: 'IPv6' }],
    eth1: [{ address: '10.0.1.9', family: 'IPv4' }]
  } as unknown as ReturnType<typeof import('node:os').networkInterfaces>
  t.equal(localAddressIn(['10.0.1.0/24'], ifaces), '10.0.1.9')
  t.equal(localAddressIn(['10.0.7.0/24'], ifaces), null)
  t.equal(localAddressIn([], ifaces), null)
})
