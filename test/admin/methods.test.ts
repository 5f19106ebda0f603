/**
 * Admin routes declare their methods (src/admin/server.ts): a bare handler is GET (and HEAD), a
 * write is declared per method and always needs the token when one is configured, even on a
 * path whose GET is open (the probes). A real node:http listener on 127.0.0.1:0.
 */
import t from 'tap'
import { request } from 'undici'
import { AdminServer } from '../../src/admin/server'

const TOKEN = 'a-token-of-16-chars-or-more'

async function serve (t: { teardown: (fn: () => unknown) => void }, token: string | null): Promise<string> {
  const ok = (body: string): { status: number, type: string, body: string } => ({ status: 200, type: 'text/plain', body })
  const server = new AdminServer({
    '/status': () => ok('status'),
    '/healthz': { GET: () => ok('alive'), POST: (body) => ok(`posted ${body}`) },
    '/rollout': { GET: () => ok('state'), POST: (body) => ({ status: 202, type: 'text/plain', body: `began ${body}` }) }
  }, token)
  const port = await server.listen('127.0.0.1', 0)
  t.teardown(() => server.close())
  return `http://127.0.0.1:${port}`
}

async function call (url: string, method: string, body?: string, token?: string): Promise<{ status: number, allow: unknown, text: string }> {
  const res = await request(url, { method: method as 'GET', ...(body !== undefined ? { body } : {}), headers: token !== undefined ? { authorization: `Bearer ${token}` } : {} })
  return { status: res.statusCode, allow: res.headers.allow, text: await res.body.text() }
}

t.test('without a token: GET routes, declared writes, 405 naming what a route takes', async (t) => {
  const base = await serve(t, null)
  t.match(await call(`${base}/status`, 'GET'), { status: 200, text: 'status' })
  t.match(await call(`${base}/status`, 'HEAD'), { status: 200, text: '' })
  t.match(await call(`${base}/status`, 'POST', 'x'), { status: 405, allow: 'GET, HEAD', text: /SYM_ERR_METHOD/ }, 'a bare handler takes GET only')
  t.match(await call(`${base}/rollout`, 'POST', '{"image":"x"}'), { status: 202, text: 'began {"image":"x"}' }, 'the body reaches the handler')
  t.match(await call(`${base}/rollout`, 'DELETE'), { status: 405, allow: 'GET, HEAD, POST' })
  t.match(await call(`${base}/rollout`, 'POST', 'x'.repeat(70 * 1024)), { status: 413, text: /SYM_ERR_ADMIN_BODY_TOO_LARGE/ })
})

t.test('with a token: a write always needs it, even where GET is open', async (t) => {
  const base = await serve(t, TOKEN)
  t.match(await call(`${base}/healthz`, 'GET'), { status: 200, text: 'alive' }, 'the probe stays open to GET')
  t.match(await call(`${base}/healthz`, 'POST', 'x'), { status: 401, text: /SYM_ERR_UNAUTHORIZED/ }, 'a write on the probe\'s path is not')
  t.match(await call(`${base}/healthz`, 'POST', 'x', TOKEN), { status: 200, text: 'posted x' })
  t.match(await call(`${base}/rollout`, 'POST', 'x'), { status: 401 })
  t.match(await call(`${base}/rollout`, 'POST', 'x', 'wrong-token-of-16-chars'), { status: 401 })
  t.match(await call(`${base}/rollout`, 'POST', 'x', TOKEN), { status: 202 })
  t.match(await call(`${base}/rollout`, 'GET'), { status: 401 }, 'reads other than the probes need it too, as before')
})
