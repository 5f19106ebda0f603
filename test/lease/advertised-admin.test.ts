/** The admin address a lease records (issue 23): reachable by another instance, on Swarm its overlay address. */
import t from 'tap'
import { advertisedAdmin } from '../../src/lease/carrier'

const rows: Array<[string, number, string | null, string]> = [
  ['127.0.0.1', 9180, null, '127.0.0.1:9180'],
  ['127.0.0.1', 9180, '10.0.1.5', '127.0.0.1:9180'],
  ['0.0.0.0', 9180, null, '0.0.0.0:9180'],
  ['0.0.0.0', 9180, '10.0.1.5', '10.0.1.5:9180'],
  ['::', 9181, '10.0.1.5', '10.0.1.5:9181'],
  ['', 9181, '10.0.1.5', '10.0.1.5:9181'],
  ['192.168.3.4', 9180, '10.0.1.5', '192.168.3.4:9180']
]
for (const [host, port, peer, want] of rows) {
  t.equal(advertisedAdmin(host, port, peer), want, `--admin-host ${JSON.stringify(host)}, peer ${String(peer)}`)
}
