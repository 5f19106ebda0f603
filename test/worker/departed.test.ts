/**
 * A backend that leaves the table (a replica replaced after failing, or removed once its drain
 * is over) takes its in-flight exchanges with it at once: they are retried where the rules allow
 * rather than waiting out --response-timeout. What a lost Swarm node does to its replicas'
 * connections (nothing: no answer, no reset) is played here by a backend that holds the request.
 */
import t from 'tap'
import { request } from 'undici'
import { State } from '../../src/table/layout'
import { startBackend } from '../helpers/backend'
import { startTestGateway } from '../helpers/gateway'

t.test('requests in flight to a replaced backend are failed at once: a GET is retried on the new one, a POST answered 502', async (t) => {
  const a = await startBackend('a')
  const b = await startBackend('b')
  t.teardown(() => { a.close(); b.close() })
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${a.port}`, '--backend', `127.0.0.1:${b.port}`, '--threads', '1', '--fault-interval', '30s', '--response-timeout', '60s'])
  // Only a in rotation, so both requests go there; a holds them for 5 s.
  gw.table.setState(1, State.UNHEALTHY)
  const started = Date.now()
  const get = request(`${gw.url}/slow?ms=5000&only=a`)
  const post = request(`${gw.url}/slow?ms=5000&only=a`, { method: 'POST', body: 'x' })
  await new Promise((resolve) => setTimeout(resolve, 300))
  // The fleet replacing a's replica in slot 0: the slot gets another backend (a new id).
  gw.table.assign(0, '127.0.0.1', b.port)
  gw.table.setState(0, State.HEALTHY)
  const [g, p] = await Promise.all([get, post])
  t.equal(g.statusCode, 200, 'the GET was retried on the backend now in the slot')
  t.equal(await g.body.text(), 'b')
  t.equal(p.statusCode, 502, 'the POST may have reached a: not sent again, answered')
  await p.body.dump()
  const waited = Date.now() - started
  t.ok(waited < 4000, `answered within a sweep of the replacement, not after a's 5 s (${waited} ms)`)
  t.equal(a.aborted.count, 2, 'both exchanges with a were closed')
})
