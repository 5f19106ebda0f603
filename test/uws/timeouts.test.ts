/**
 * The gateway's HTTP time limits on the loaded build (src/uws/timeouts.ts): where select.ts says
 * the build lets an App set them, every kind of App a proxy thread serves from (plain and SSL)
 * reads back 10 s after withHttpTimeouts; where it says not, the binary has no setter (its
 * limits are fixed at 10 s), so the capability table cannot drift from the binary either way.
 * That the limits are kept over real sockets is test/worker/limits.test.ts.
 */
import t from 'tap'
import { uWS, uwsRuntime } from '../../src/uws'
import { HTTP_TIMEOUT_S, withHttpTimeouts, type SettableTimeouts } from '../../src/uws/timeouts'

type App = Partial<SettableTimeouts> & { close: () => void }

const makers: Array<[string, () => App]> = [
  ['App', () => uWS.App() as unknown as App],
  // No certificate: uWS makes the SSL context without one (src/worker/tls-app.ts does the same).
  ['SSLApp', () => uWS.SSLApp({}) as unknown as App]
]

for (const [name, make] of makers) {
  t.test(`${name} on uWS ${uwsRuntime.build}: the gateway's ${HTTP_TIMEOUT_S} s where the build lets them be set`, async (t) => {
    const app = make()
    t.teardown(() => { app.close() })
    t.equal(typeof app.setIdleTimeout === 'function' && typeof app.setResponseTimeout === 'function', uwsRuntime.settableTimeouts,
      `settableTimeouts (${String(uwsRuntime.settableTimeouts)}) is what the binary has`)
    if (!uwsRuntime.settableTimeouts) return
    const settable = app as SettableTimeouts
    t.comment(`as built: idle ${settable.getIdleTimeout()} s, response ${settable.getResponseTimeout()} s`)
    t.equal(withHttpTimeouts(app), app, 'the same App back, for chaining')
    t.equal(settable.getIdleTimeout(), HTTP_TIMEOUT_S, 'head, silent connection, slow body')
    t.equal(settable.getResponseTimeout(), HTTP_TIMEOUT_S, 'idle keep-alive after an answer')
  })
}

t.test('a build without the setters is left alone', async (t) => {
  const untouched = {}
  t.equal(withHttpTimeouts(untouched, { ...uwsRuntime, settableTimeouts: false }), untouched, 'nothing is called on it (it has nothing to call)')
})
