import t from 'tap'
import { countSockets, listenerTables, procAddress, snmpPassiveOpens, sockstatInuse, TCP_LISTEN, type SocketMatch } from '../../src/gateway/proc-net'
import { connectionBound, resumeAt, shouldAccept } from '../../src/gateway/connection-limit'
import { nofileSoftLimit } from '../../src/config/load'

// Captured on this kind of machine (Debian 12, x86-64, little-endian) with node:net servers on
// 127.0.0.1:18610 (0x48B2), [::]:18611 (0x48B3, one IPv4 and one IPv6 client) and [::1]:18612
// (0x48B4), clients on the same host, plus TIME_WAIT (06) leftovers of earlier connections.
// Lines are kept byte for byte: tcp pads each line to 149 characters, tcp6 does not.
const TCP = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     ',
  '   1: 0100007F:48B2 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20004094 1 000000000a9ba935 100 0 0 10 0                  ',
  '   7: 0100007F:48B2 0100007F:DA44 01 00000000:00000000 00:00000000 00000000     0        0 20004100 1 00000000b23e8b7a 20 0 0 10 -1                  ',
  '   8: 0100007F:48B2 0100007F:DA38 01 00000000:00000000 00:00000000 00000000     0        0 20004098 1 00000000736d8362 20 0 0 10 -1                  ',
  '   9: 0100007F:A34C 0100007F:48B3 06 00000000:00000000 03:000016E1 00000000     0        0 0 3 00000000e377e0db                                      ',
  '  10: 0100007F:A35A 0100007F:48B3 01 00000000:00000000 00:00000000 00000000     0        0 20004101 2 00000000be582a89 20 0 0 10 -1                  ',
  '  59: 0100007F:DA1A 0100007F:48B2 06 00000000:00000000 03:000016E1 00000000     0        0 0 3 000000007988942e                                      ',
  '  60: 0100007F:DA24 0100007F:48B2 06 00000000:00000000 03:000016E1 00000000     0        0 0 3 000000000242ce3d                                      ',
  '  61: 0100007F:DA30 0100007F:48B2 06 00000000:00000000 03:000016CC 00000000     0        0 0 3 000000006db23f90                                      ',
  '  62: 0100007F:DA38 0100007F:48B2 01 00000000:00000000 00:00000000 00000000     0        0 20004097 2 0000000093b254b0 20 0 0 10 -1                  ',
  '  63: 0100007F:DA44 0100007F:48B2 01 00000000:00000000 00:00000000 00000000     0        0 20004099 2 000000007fba0832 20 0 0 10 -1                  ',
  '  64: 0100007F:DA4A 0100007F:48B2 06 00000000:00000000 03:0000175B 00000000     0        0 0 3 00000000139e6d24                                      '
].join('\n') + '\n'

const TCP6 = [
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 00000000000000000000000000000000:48B3 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20004095 1 00000000ed25f173 100 0 0 10 0',
  '   1: 00000000000000000000000001000000:48B4 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20004096 1 000000003b453ee9 100 0 0 10 0',
  '   2: 00000000000000000000000001000000:856C 00000000000000000000000001000000:48B3 06 00000000:00000000 03:000016E0 00000000     0        0 0 3 0000000085088568',
  '   3: 00000000000000000000000001000000:8572 00000000000000000000000001000000:48B3 01 00000000:00000000 00:00000000 00000000     0        0 20004103 2 000000006a903cc2 20 0 0 10 -1',
  '   4: 00000000000000000000000001000000:48B4 00000000000000000000000001000000:B7BE 01 00000000:00000000 00:00000000 00000000     0        0 20004106 1 00000000b26f7896 20 0 0 10 -1',
  '   5: 00000000000000000000000001000000:B7B2 00000000000000000000000001000000:48B4 06 00000000:00000000 03:000016E0 00000000     0        0 0 3 000000009236e22b',
  '   6: 00000000000000000000000001000000:B7BE 00000000000000000000000001000000:48B4 01 00000000:00000000 00:00000000 00000000     0        0 20004105 2 000000005734be4f 20 0 0 10 -1',
  '   7: 0000000000000000FFFF00000100007F:48B3 0000000000000000FFFF00000100007F:A35A 01 00000000:00000000 00:00000000 00000000     0        0 20004102 1 00000000273c79be 20 0 0 10 -1',
  '   8: 00000000000000000000000001000000:48B3 00000000000000000000000001000000:8572 01 00000000:00000000 00:00000000 00000000     0        0 20004104 1 000000007c01b70c 20 0 0 10 -1'
].join('\n') + '\n'

const SOCKSTAT = 'sockets: used 33\nTCP: inuse 14 orphan 0 tw 47 alloc 21 mem 23\nUDP: inuse 0 mem 0\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n'
const SOCKSTAT6 = 'TCP6: inuse 7\nUDP6: inuse 0\nUDPLITE6: inuse 0\nRAW6: inuse 0\nFRAG6: inuse 0 memory 0\n'

const SNMP = [
  'Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits',
  'Ip: 1 64 420374410 0 0 0 0 0 420374386 420397215 5 0 0 0 0 0 0 0 0 420397215',
  'Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors',
  'Tcp: 1 200 120000 -1 7076066 6875727 9104 786792 2 418537941 418557700 108405 0 526988 0',
  'Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors',
  'Udp: 0 0 0 0 0 0 0 0 0'
].join('\n') + '\n'

const LIMITS = [
  'Limit                     Soft Limit           Hard Limit           Units     ',
  'Max cpu time              unlimited            unlimited            seconds   ',
  'Max file size             unlimited            unlimited            bytes     ',
  'Max data size             unlimited            unlimited            bytes     ',
  'Max stack size            8388608              unlimited            bytes     ',
  'Max core file size        0                    unlimited            bytes     ',
  'Max resident set          unlimited            unlimited            bytes     ',
  'Max processes             96364                96364                processes ',
  'Max open files            20000                20000                files     ',
  'Max locked memory         8388608              8388608              bytes     ',
  'Max address space         unlimited            unlimited            bytes     ',
  'Max file locks            unlimited            unlimited            locks     ',
  'Max pending signals       96364                96364                signals   ',
  'Max msgqueue size         819200               819200               bytes     ',
  'Max nice priority         0                    0                    ',
  'Max realtime priority     0                    0                    ',
  'Max realtime timeout      unlimited            unlimited            us        '
].join('\n') + '\n'

const any = (port: number): SocketMatch => ({ port, address: null })
const at = (port: number, ip: string): SocketMatch => ({ port, address: procAddress(ip, 'LE') })

t.test('countSockets: server-side ESTABLISHED connections of one local port (and address)', async (t) => {
  const cases: Array<[string, string, SocketMatch, number, number?]> = [
    ['IPv4 listener, any address', TCP, any(18610), 2],
    ['IPv4 listener, its address', TCP, at(18610, '127.0.0.1'), 2],
    ['IPv4 listener, another address', TCP, at(18610, '10.0.0.1'), 0],
    ['client sides and TIME_WAIT towards the port are not counted', TCP, any(18611), 0],
    ['the listening socket itself', TCP, any(18610), 1, TCP_LISTEN],
    ['dual-stack listener: IPv4-mapped and IPv6 clients', TCP6, any(18611), 2],
    ['dual-stack listener, IPv6 loopback only', TCP6, at(18611, '::1'), 1],
    ['dual-stack listener, the IPv4-mapped client only', TCP6, at(18611, '::ffff:127.0.0.1'), 1],
    ['IPv6 loopback listener', TCP6, at(18612, '::1'), 1],
    ['an IPv4 address never matches a tcp6 line', TCP6, at(18611, '127.0.0.1'), 0],
    ['a port with no sockets', TCP6, any(8080), 0],
    ['a header line alone', TCP.split('\n')[0], any(18610), 0],
    ['empty text', '', any(18610), 0],
    ['no final newline', TCP.trimEnd(), any(18610), 2],
    ['a truncated last line is not counted', TCP.split('\n').slice(0, 4).join('\n').slice(0, -120), any(18610), 1]
  ]
  for (const [what, table, match, want, state] of cases) {
    t.equal(countSockets(table, match, state), want, what)
    t.equal(countSockets(Buffer.from(table, 'latin1'), match, state), want, `${what} (Buffer)`)
  }
})

t.test('procAddress: addresses as the kernel prints them', async (t) => {
  const cases: Array<[string, 'LE' | 'BE', string]> = [
    ['127.0.0.1', 'LE', '0100007F'],
    ['127.0.0.1', 'BE', '7F000001'],
    ['0.0.0.0', 'LE', '00000000'],
    ['10.1.2.3', 'LE', '0302010A'],
    ['::1', 'LE', '00000000000000000000000001000000'],
    ['::1', 'BE', '00000000000000000000000000000001'],
    ['::ffff:127.0.0.1', 'LE', '0000000000000000FFFF00000100007F'],
    ['2001:db8::8a2e:370:7334', 'LE', 'B80D0120000000002E8A000034737003'],
    ['fe80::1%eth0', 'LE', '000080FE000000000000000001000000']
  ]
  for (const [ip, order, want] of cases) t.equal(procAddress(ip, order), want, `${ip} ${order}`)
})

t.test('listenerTables: which tables hold a listener\'s connections', async (t) => {
  t.same(listenerTables('0.0.0.0', 80, 'LE'), { tcp: { port: 80, address: null }, tcp6: null }, '0.0.0.0: IPv4 only, any address')
  t.same(listenerTables('::', 80, 'LE'), { tcp: null, tcp6: { port: 80, address: null } }, '::: dual-stack, all in tcp6')
  t.same(listenerTables('127.0.0.1', 80, 'LE'), { tcp: { port: 80, address: '0100007F' }, tcp6: null })
  t.same(listenerTables('::1', 80, 'LE'), { tcp: null, tcp6: { port: 80, address: '00000000000000000000000001000000' } })
  t.same(listenerTables('localhost', 80, 'LE'), { tcp: { port: 80, address: null }, tcp6: { port: 80, address: null } }, 'a name: the port alone, both tables')
})

t.test('sockstatInuse: the cheap upper bound', async (t) => {
  t.equal(sockstatInuse(SOCKSTAT), 14)
  t.equal(sockstatInuse(SOCKSTAT6), 7)
  t.ok(sockstatInuse(SOCKSTAT) >= countSockets(TCP, any(18610)), 'never below the exact count of the same moment')
  t.throws(() => sockstatInuse('UDP: inuse 0\n'), /no "TCP: inuse" line/)
})

t.test('snmpPassiveOpens: connections accepted so far', async (t) => {
  t.equal(snmpPassiveOpens(SNMP), 6_875_727)
  t.throws(() => snmpPassiveOpens('Udp: InDatagrams\nUdp: 0\n'), /no Tcp PassiveOpens/)
  t.throws(() => snmpPassiveOpens(SNMP.split('\n').slice(0, 3).join('\n')), /no Tcp PassiveOpens/, 'names without values')
})

t.test('connectionBound: the cheapest proven upper bound', async (t) => {
  // [what, inuse, passive opens now, own descriptors (null: not read), anchor, bound]
  const cases: Array<[string, number, number, number | null, { count: number, passiveOpens: number } | null, number]> = [
    ['no exact count yet: every socket of the namespace', 500, 1000, null, null, 500],
    ['a count of 300, nothing accepted since', 9000, 1000, null, { count: 300, passiveOpens: 1000 }, 300],
    ['a count of 300, 40 accepted since', 9000, 1040, null, { count: 300, passiveOpens: 1000 }, 340],
    ['the namespace total when it is lower', 320, 1040, null, { count: 300, passiveOpens: 1000 }, 320],
    ['own descriptors when they are fewer than the namespace holds', 9000, 1000, 120, null, 120],
    ['own descriptors when many connections were accepted elsewhere since', 9000, 50_000, 400, { count: 300, passiveOpens: 1000 }, 400],
    ['the anchor when it is lower than own descriptors', 9000, 1000, 700, { count: 300, passiveOpens: 1000 }, 300]
  ]
  for (const [what, inuse, passiveOpens, ownFds, anchor, want] of cases) t.equal(connectionBound({ inuse, passiveOpens, ownFds }, anchor), want, what)
})

t.test('nofileSoftLimit: the open-file limit from /proc/self/limits', async (t) => {
  t.equal(nofileSoftLimit(LIMITS), 20000)
  t.equal(nofileSoftLimit(LIMITS.replace('20000                20000', 'unlimited            unlimited')), null, 'unlimited')
  t.equal(nofileSoftLimit('Limit Soft Limit\n'), null, 'no such line')
})

t.test('shouldAccept: pause at the limit, resume at 90 %', async (t) => {
  t.equal(resumeAt(20), 18)
  t.equal(resumeAt(10), 9)
  t.equal(resumeAt(1), 0, 'limit 1: resume with no connection left')
  t.equal(resumeAt(10_000), 9_000)
  // [accepting, count, limit, accept after]
  const cases: Array<[boolean, number, number, boolean]> = [
    [true, 19, 20, true],
    [true, 20, 20, false],
    [true, 25, 20, false],
    [false, 19, 20, false],
    [false, 18, 20, true],
    [false, 0, 1, true],
    [false, 1, 1, false],
    [true, 0, 1, true]
  ]
  for (const [accepting, count, limit, want] of cases) t.equal(shouldAccept(accepting, count, limit), want, `${accepting ? 'accepting' : 'paused'}, ${count} of ${limit}`)
  for (let count = 0; count < 40; count++) {
    for (const accepting of [true, false]) {
      if (shouldAccept(accepting, count + 1, 20)) t.ok(shouldAccept(accepting, count, 20), `monotone at ${count}: a bound that accepts proves the count accepts`)
    }
  }
})
