import t from 'tap'
import { replicaPort, replicaMark, REPLICA_ENV, alive } from '../../src/runtime/orphans'

const environ = (...vars: string[]): string => vars.join('\0') + '\0'

t.test('replicaPort: the port of a group leader marked for this service; nothing else', async (t) => {
  const mark = `${REPLICA_ENV}=${replicaMark('api', 8001)}`
  const leader = '4242 (node) S 1 4242 4242 0 -1 4194560'
  t.equal(replicaPort(environ('PATH=/bin', mark, 'PORT=8001'), leader, 4242, 'api'), 8001)
  t.equal(replicaPort(environ(mark), '4243 (node) S 4242 4242 4242 0 -1', 4243, 'api'), null, 'a descendant (inherits the mark, not the group)')
  t.equal(replicaPort(environ(mark), leader, 4242, 'ap'), null, 'another service whose name is a prefix')
  t.equal(replicaPort(environ(`${REPLICA_ENV}=api-2:8001`), leader, 4242, 'api'), null, 'another service')
  t.equal(replicaPort(environ(`${REPLICA_ENV}=api:80x`), leader, 4242, 'api'), null, 'a malformed port')
  t.equal(replicaPort(environ(mark), '4242 (my (odd) name) S 1 4242 4242 0', 4242, 'api'), 8001, 'a command name with spaces and parentheses')
})

t.test('alive: this process yes; a pid that cannot exist no', async (t) => {
  t.ok(alive(process.pid))
  t.notOk(alive(2 ** 22 + 1), 'above the kernel pid limit')
})
