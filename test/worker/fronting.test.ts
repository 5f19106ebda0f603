/**
 * nginx in front of symphony, configured as docs/deployment.md says (issue #18): no uWebSockets.js
 * version serves HTTP/1.0, and nginx speaks HTTP/1.0 to its upstreams unless told
 * `proxy_http_version 1.1`. A real nginx (Debian's package, scripts/nginx.sh) runs two servers
 * on 127.0.0.1 in front of one real gateway: one with the documented settings (HTTP/1.1, the
 * Connection header cleared, upstream keepalive), which must work, and one with nginx's defaults,
 * which must not: the negative control that shows the advice is needed.
 */
import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { request } from 'undici'
import { repoRoot } from '../helpers/docker'
import { startBackend } from '../helpers/backend'
import { startTestGateway, waitFor } from '../helpers/gateway'
import { uwsRuntime } from '../../src/uws'

execFileSync(path.join(repoRoot, 'scripts', 'nginx.sh'), [], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CI: 'true' } })

/** A port nothing listens on now (nginx's configuration needs numbers, not 0). */
async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** How long nginx waits for the gateway's answer in the default server: bounds the hang. */
const READ_TIMEOUT_S = 3

function nginxConf (dir: string, gatewayPort: number, documented: number, defaults: number): string {
  return `daemon off;
master_process off;
user root root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 10m;
  upstream symphony {
    server 127.0.0.1:${gatewayPort};
    keepalive 16;
  }
  # As docs/deployment.md gives it.
  server {
    listen 127.0.0.1:${documented};
    location / {
      proxy_pass http://symphony;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
  # nginx's defaults: proxy_http_version 1.0, Connection: close.
  server {
    listen 127.0.0.1:${defaults};
    location / {
      proxy_pass http://symphony;
      proxy_read_timeout ${READ_TIMEOUT_S}s;
    }
  }
}
`
}

t.test('nginx in front: proxy_http_version 1.1 serves GET and POST; nginx\'s default HTTP/1.0 gets no answer from uWS', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1'])

  const dir = mkdtempSync(path.join(os.tmpdir(), 'symphony-nginx-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const documented = await freePort()
  const defaults = await freePort()
  writeFileSync(path.join(dir, 'nginx.conf'), nginxConf(dir, gw.port, documented, defaults))
  const nginx = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` }
  })
  let stderr = ''
  nginx.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  t.teardown(() => { nginx.kill('SIGTERM') })
  const listening = await waitFor(async () => await new Promise<boolean>((resolve) => {
    const s = net.connect(documented, '127.0.0.1', () => { s.destroy(); resolve(true) })
    s.on('error', () => resolve(false))
  }), 10_000)
  t.ok(listening, 'nginx listens', { stderr })
  if (!listening) return
  const errorLog = (): string => { try { return readFileSync(path.join(dir, 'error.log'), 'utf8') } catch { return '' } }

  // The documented server: every answer is the backend's, over kept-alive upstream connections.
  for (let i = 0; i < 20; i++) {
    const r = await request(`http://127.0.0.1:${documented}/hello?i=${i}`, { headersTimeout: 10_000 })
    const body = await r.body.text()
    if (r.statusCode !== 200 || !body.includes(`"query":"i=${i}"`)) {
      t.fail(`GET ${i} through nginx: ${r.statusCode} ${body.slice(0, 80)}`, { errorLog: errorLog() })
      return
    }
  }
  t.pass('20 GETs through nginx answered by the backend')
  const payload = randomBytes(100_000) // past nginx's 16 KiB body buffer: it goes through its temp file
  const post = await request(`http://127.0.0.1:${documented}/echo`, { method: 'POST', body: payload, headersTimeout: 10_000 })
  t.equal(post.statusCode, 200, 'POST through nginx')
  const seen = await post.body.json() as { method: string, bodyLength: number, sha256: string }
  t.match(seen, { method: 'POST', bodyLength: payload.length, sha256: createHash('sha256').update(payload).digest('hex') }, 'the backend got the whole body')

  // nginx's defaults: an HTTP/1.0 request, which uWS never serves. A build that answers what its
  // parser refuses (20.57) says 505 at once; 20.30 never answers (nginx's read timeout ends the
  // wait, or uWS's 10 s idle timeout closes first). Never the backend's answer.
  const started = Date.now()
  const r = await request(`http://127.0.0.1:${defaults}/hello`, { headersTimeout: (READ_TIMEOUT_S + 12) * 1000 })
  const body = await r.body.text()
  const ms = Date.now() - started
  t.not(r.statusCode, 200, `nginx's default HTTP/1.0 upstream request is not served (${r.statusCode} after ${ms} ms)`)
  if (uwsRuntime.answersMalformed) {
    t.equal(r.statusCode, 505, `uWS ${uwsRuntime.build} answers 505 (after ${ms} ms)`, { body: body.slice(0, 200) })
    t.ok(ms < READ_TIMEOUT_S * 1000, 'at once, not at nginx\'s read timeout')
  } else {
    t.ok(r.statusCode === 502 || r.statusCode === 504, `uWS ${uwsRuntime.build} never answers: nginx gave up with ${r.statusCode} after ${ms} ms`, { body: body.slice(0, 200), errorLog: errorLog() })
  }
  t.equal(be.seen.filter((s) => s.url === '/hello' && s.query === '').length, 0, 'the HTTP/1.0 request never reached the backend')
})
