/** The lease records the admin address as configured; a takeover must reach it from this host. */
import t from 'tap'
import { adminUrl } from '../../src/takeover/client'

t.test('wildcard addresses mean this host\'s loopback; IPv6 gets brackets', async (t) => {
  const cases: Array<[string, string]> = [
    ['127.0.0.1:9180', 'http://127.0.0.1:9180/takeover'],
    ['0.0.0.0:9180', 'http://127.0.0.1:9180/takeover'],
    [':::9180', 'http://[::1]:9180/takeover'],
    ['::1:9181', 'http://[::1]:9181/takeover'],
    ['10.0.3.7:9180', 'http://10.0.3.7:9180/takeover']
  ]
  for (const [admin, url] of cases) t.equal(adminUrl(admin, '/takeover'), url, admin)
})
