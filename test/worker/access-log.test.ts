/**
 * The access log and the request id (issue #20 points 2 and 3) through a real gateway: real uWS
 * threads, real backends, real clients (undici, and raw sockets where a client must misbehave).
 */
import t from 'tap'
import net from 'node:net'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync, spawnSync } from 'node:child_process'
import { request } from 'undici'
import { startBackend } from '../helpers/backend'
import { configFrom, startTestGateway, sleep, waitFor } from '../helpers/gateway'
import { startCli } from '../helpers/cli'
import { startGateway } from '../../src/composition-root'
import { createLogger } from '../../src/log'

const BIN = path.join(__dirname, '..', '..', '..', 'bin', 'symphony.js')

interface Line {
  time: string
  client: string
  method: string
  path: string
  status: number
  bytes: number
  duration_ms: number
  backend: string | null
  retries: number
  request_id: string
}

function tmpDir (t: { teardown: (fn: () => unknown) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'symphony-access-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

function readLines (file: string): Line[] {
  if (!fs.existsSync(file)) return []
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line)
}

/** Wait (the thread writes on its 500 ms tick) for a line that `match` accepts. */
async function lineFor (file: string, match: (l: Line) => boolean, ms = 5000): Promise<Line | undefined> {
  let found: Line | undefined
  await waitFor(() => { found = readLines(file).find(match); return found !== undefined }, ms)
  return found
}

/** Send raw bytes, collect what comes back until the server closes or `ms` pass. */
function raw (port: number, bytes: string | Buffer, ms = 2000): Promise<string> {
  return new Promise((resolve) => {
    let out = ''
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes))
    const timer = setTimeout(() => s.destroy(), ms)
    s.on('data', (d) => { out += d.toString('latin1') })
    s.on('close', () => { clearTimeout(timer); resolve(out) })
    s.on('error', () => {})
  })
}

t.test('one JSON line per finished request, with the request id end to end', async (t) => {
  const dir = tmpDir(t)
  const file = path.join(dir, 'access.log')
  const refusing = await startBackend('refusing')
  const good = await startBackend('good')
  t.teardown(() => good.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${refusing.port}`, '--backend', `127.0.0.1:${good.port}`, '--threads', '1', '--fault-interval', '30s', '--max-body-size', '1kb', '--access-log', file])
  refusing.close()
  const goodName = `127.0.0.1:${good.port}`
  t.equal((fs.statSync(file).mode & 0o777), 0o640, 'the file is created with mode 0640')

  // Round robin starts at the refusing backend: refused, retried on the good one.
  const first = await request(`${gw.url}/first`, { headers: { 'x-request-id': 'client-id-1' } })
  t.equal(first.statusCode, 200)
  t.equal(first.headers['x-request-id'], 'client-id-1', 'a sane client id comes back')
  await first.body.dump()
  const retried = await lineFor(file, (l) => l.path === '/first')
  t.equal(retried?.retries, 1, 'the refused connect then the good backend: one retry')
  t.equal(retried?.backend, goodName, 'the backend that answered')
  t.equal(retried?.request_id, 'client-id-1')

  const ok = await request(`${gw.url}/echo?x=1`, { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' } })
  const okBody = await ok.body.text()
  const seen = JSON.parse(okBody) as { headers: Array<[string, string]> }
  const made = ok.headers['x-request-id'] as string
  t.match(made, /^[0-9a-f]{12}-[0-9a-z]+$/, 'none sent: one is made (thread prefix + counter)')
  t.same(seen.headers.filter(([k]) => k === 'x-request-id').map(([, v]) => v), [made], 'the backend gets the same id, once')
  t.same(seen.headers.filter(([k]) => k === 'traceparent' || k === 'tracestate'), [
    ['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'], ['tracestate', 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7']
  ], 'traceparent and tracestate pass through untouched')
  const okLine = await lineFor(file, (l) => l.request_id === made)
  t.match(okLine, { client: '127.0.0.1', method: 'GET', path: '/echo?x=1', status: 200, bytes: Buffer.byteLength(okBody), backend: goodName, retries: 0 })
  t.ok(okLine !== undefined && Date.parse(okLine.time) > Date.now() - 60_000 && okLine.time.endsWith('Z'), 'time is ISO 8601 UTC')
  t.ok(okLine !== undefined && okLine.duration_ms >= 0 && okLine.duration_ms < 10_000, 'a duration in ms')

  for (const [what, sent] of [['too long', 'x'.repeat(201)], ['a space', 'a b'], ['non-ASCII', 'é']] as const) {
    const r = await request(`${gw.url}/echo`, { headers: { 'x-request-id': sent } })
    await r.body.dump()
    t.match(r.headers['x-request-id'], /^[0-9a-f]{12}-[0-9a-z]+$/, `a client id with ${what} is replaced`)
  }
  const longest = 'y'.repeat(200)
  const kept = await request(`${gw.url}/echo`, { headers: { 'x-request-id': longest } })
  await kept.body.dump()
  t.equal(kept.headers['x-request-id'], longest, '200 visible characters are kept')

  const nf = await request(`${gw.url}/status?code=404`, { headers: { 'x-request-id': 'nf' } })
  await nf.body.dump()
  t.match(await lineFor(file, (l) => l.request_id === 'nf'), { status: 404, bytes: 'status 404'.length, backend: goodName })

  const post = await request(`${gw.url}/echo`, { method: 'POST', body: 'hello body', headers: { 'x-request-id': 'post-1' } })
  await post.body.dump()
  t.match(await lineFor(file, (l) => l.request_id === 'post-1'), { method: 'POST', path: '/echo', status: 200 })

  // A path with quotes, a backslash and a control character (DEL: uWS itself closes on C0
  // controls in a request line): escaped, and the line still parses.
  const odd = '/q"u\\o\x7fte?a="b"'
  await raw(gw.port, `GET ${odd} HTTP/1.1\r\nHost: x\r\nX-Request-ID: odd-1\r\nConnection: close\r\n\r\n`)
  const oddLine = await lineFor(file, (l) => l.request_id === 'odd-1')
  t.equal(oddLine?.path, odd, 'JSON.parse gives back the exact path')
  const oddText = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.includes('odd-1')) ?? ''
  t.ok(oddText.includes('\\"u\\\\o\\u007fte'), 'quote, backslash and control character are escaped in the line')

  // 413, refused by intake before any Exchange exists: logged, with an id.
  const refused = await raw(gw.port, 'POST /big HTTP/1.1\r\nHost: x\r\nX-Request-ID: big-1\r\nContent-Length: 5000\r\n\r\n')
  t.match(refused, /^HTTP\/1\.1 413 [^]*x-request-id: big-1\r\n/i, '413 with the request id')
  t.match(await lineFor(file, (l) => l.request_id === 'big-1'), { status: 413, method: 'POST', path: '/big', backend: null, retries: 0 })

  // The client goes away while the backend is still working: 499.
  const s = net.connect(gw.port, '127.0.0.1', () => s.write('GET /slow?ms=1500 HTTP/1.1\r\nHost: x\r\nX-Request-ID: gone-1\r\n\r\n'))
  s.on('error', () => {})
  await sleep(300)
  s.destroy()
  t.match(await lineFor(file, (l) => l.request_id === 'gone-1'), { status: 499, bytes: 0, backend: goodName })

  // Last: the reset marks the good backend suspect, and what follows would be held.
  const bad = await request(`${gw.url}/reset`, { headers: { 'x-request-id': 'bad-gw' } })
  t.equal(bad.statusCode, 502)
  t.equal(bad.headers['x-request-id'], 'bad-gw', 'the gateway\'s own answers carry the id too')
  const badBody = await bad.body.text()
  t.match(await lineFor(file, (l) => l.request_id === 'bad-gw'), { status: 502, bytes: badBody.length, backend: goodName })
})

t.test('503 with no backend: logged with backend null, the answer carries an id', async (t) => {
  const dir = tmpDir(t)
  const file = path.join(dir, 'access.log')
  const gone = await startBackend('gone')
  gone.close()
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${gone.port}`, '--threads', '1', '--queue-timeout', '0', '--access-log', file])
  const r = await request(`${gw.url}/none`)
  t.equal(r.statusCode, 503)
  t.match(r.headers['x-request-id'], /^[0-9a-f]{12}-/)
  await r.body.dump()
  t.match(await lineFor(file, (l) => l.path === '/none'), { status: 503, backend: null, request_id: r.headers['x-request-id'] })
})

t.test('common format: the Common Log Format fields, then duration, backend, retries and id', async (t) => {
  const dir = tmpDir(t)
  const file = path.join(dir, 'access.log')
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1', '--access-log', file, '--access-log-format', 'common'])
  await raw(gw.port, 'GET /c"x?y=1 HTTP/1.1\r\nHost: x\r\nX-Request-ID: clf-1\r\nConnection: close\r\n\r\n')
  let text = ''
  await waitFor(() => { text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''; return text.includes('clf-1') }, 5000)
  t.match(text, new RegExp(`^127\\.0\\.0\\.1 - - \\[\\d\\d/[A-Z][a-z]{2}/\\d{4}:\\d\\d:\\d\\d:\\d\\d \\+0000\\] "GET /c\\\\x22x\\?y=1 HTTP/1\\.1" 200 \\d+ [0-9.]+ "127\\.0\\.0\\.1:${be.port}" 0 "clf-1"\\n$`), 'one line, the quote in the path as \\x22')
})

t.test('rotation: rename and a reopen message; rename alone (the inode check)', async (t) => {
  const dir = tmpDir(t)
  const file = path.join(dir, 'access.log')
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const gw = await startTestGateway(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '2', '--access-log', file])
  const get = async (id: string): Promise<void> => { await (await request(`${gw.url}/r`, { headers: { 'x-request-id': id } })).body.dump() }
  await get('before')
  t.ok(await lineFor(file, (l) => l.request_id === 'before'))

  fs.renameSync(file, `${file}.1`)
  gw.workers.reopenAccessLog() // what SIGHUP sends every thread
  t.ok(await waitFor(() => fs.existsSync(file), 3000), 'the file is created again by name')
  await sleep(100)
  for (let i = 0; i < 4; i++) await get(`after-hup-${i}`) // both threads, round robin of connections aside
  t.ok(await lineFor(file, (l) => l.request_id === 'after-hup-3'), 'new lines go to the new file')
  t.ok(readLines(`${file}.1`).some((l) => l.request_id === 'before'), 'the old lines stay in the moved file')
  t.notOk(readLines(`${file}.1`).some((l) => l.request_id.startsWith('after-hup')), 'no new line in the moved file')

  fs.renameSync(file, `${file}.2`)
  t.ok(await waitFor(() => fs.existsSync(file), 4000), 'moved without a signal: reopened within about a second')
  await sleep(1500) // the first thread to notice created the file; each thread checks once a second
  for (let i = 0; i < 4; i++) await get(`after-move-${i}`)
  t.ok(await lineFor(file, (l) => l.request_id === 'after-move-3'), 'new lines go to the new file')
  t.notOk(readLines(`${file}.2`).some((l) => l.request_id.startsWith('after-move')), 'none to the moved one')

  fs.unlinkSync(file)
  t.ok(await waitFor(() => fs.existsSync(file), 4000), 'removed: created again')
})

t.test('the real CLI: - writes whole lines to stdout among the log lines; SIGHUP reopens the file', async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const cli = await startCli(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '2', '--access-log', '-'])
  for (let i = 0; i < 20; i++) await (await request(`http://127.0.0.1:${cli.port}/s${i}`, { headers: { 'x-request-id': `stdout-${i}` } })).body.dump()
  t.ok(await waitFor(() => cli.lines.filter((l) => l.includes('"request_id":"stdout-')).length === 20, 5000), 'every line on stdout')
  for (const l of cli.lines) t.doesNotThrow(() => JSON.parse(l), 'each stdout line is one whole JSON object', { diagnostic: false })

  const dir = tmpDir(t)
  const file = path.join(dir, 'access.log')
  const hup = await startCli(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '1', '--access-log', file])
  await (await request(`http://127.0.0.1:${hup.port}/one`)).body.dump()
  t.ok(await lineFor(file, (l) => l.path === '/one'))
  fs.renameSync(file, `${file}.1`)
  hup.child.kill('SIGHUP')
  t.ok(await waitFor(() => hup.lines.some((l) => l.includes('SIGHUP: reopening the access log')), 5000), 'the signal is logged')
  t.ok(await waitFor(() => fs.existsSync(file), 3000), 'the file is open again by its name')
  await (await request(`http://127.0.0.1:${hup.port}/two`)).body.dump()
  t.ok(await lineFor(file, (l) => l.path === '/two'), 'and written to')
  t.equal(hup.child.exitCode, null, 'SIGHUP did not end the process')
})

t.test('a file that cannot be opened at start-up: one line, exit 8, nothing started', async (t) => {
  const dir = tmpDir(t)
  const r = spawnSync(process.execPath, [BIN, '--backend', '127.0.0.1:9', '--port', '0', '--admin-port', '0', '--access-log', path.join(dir, 'missing', 'access.log')], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH } })
  t.equal(r.status, 8, 'exit 8 (SYM_ERR_ACCESS_LOG)')
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line')
  t.match(r.stderr, /^symphony: --access-log .*missing\/access\.log: cannot open it for appending \(ENOENT\)/)
  t.equal(r.stdout, '', 'nothing started, nothing logged')
})

/** Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN): the full-disk test needs one. */
function canMount (): boolean {
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'symphony-mount-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' })
    execFileSync('umount', [probe], { stdio: 'ignore' })
    return true
  } catch {
    return false
  } finally {
    fs.rmSync(probe, { recursive: true, force: true })
  }
}

t.test('a disk that fills up: counted, reported once, the proxy goes on; recovery is said', {
  skip: canMount() ? false : 'cannot mount a 64 KiB tmpfs here (needs root with CAP_SYS_ADMIN): the full-disk path is NOT tested'
}, async (t) => {
  const dir = tmpDir(t)
  const mnt = path.join(dir, 'tiny')
  fs.mkdirSync(mnt)
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { stdio: 'ignore' })
  const file = path.join(mnt, 'access.log')
  const be = await startBackend('a')
  const lines: string[] = []
  const gw = await startGateway(configFrom(['--backend', `127.0.0.1:${be.port}`, '--threads', '1', '--access-log', file]), createLogger('info', (l) => { lines.push(l) }))
  t.teardown(async () => {
    await gw.stop()
    be.close()
    execFileSync('umount', [mnt])
  })
  const url = `http://127.0.0.1:${gw.port}`
  const metric = async (name: string): Promise<number> => {
    const text = await (await request(`http://127.0.0.1:${gw.adminPort}/metrics`)).body.text()
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
  }
  t.equal(await metric('symphony_access_log_errors_total'), 0)
  // Fill the filesystem to the last byte.
  const filler = path.join(mnt, 'filler')
  try { fs.writeFileSync(filler, Buffer.alloc(128 * 1024)) } catch {}
  for (let i = 0; i < 300; i++) {
    const r = await request(`${url}/p${i}`)
    if (i % 50 === 0) t.equal(r.statusCode, 200, `request ${i} answered`)
    await r.body.dump()
  }
  t.ok(await waitFor(async () => await metric('symphony_access_log_errors_total') > 0, 5000), 'failed writes are counted')
  t.ok(await metric('symphony_access_log_dropped_lines_total') > 0, 'and their lines as dropped')
  for (let i = 0; i < 100; i++) await (await request(`${url}/more${i}`)).body.dump()
  await sleep(1200)
  const reports = lines.filter((l) => l.includes('access log: cannot write'))
  t.equal(reports.length, 1, 'reported once, not per line or per write')
  t.match(reports[0], /"code":"ENOSPC"/)

  fs.unlinkSync(filler)
  await (await request(`${url}/after`, { headers: { 'x-request-id': 'after-full' } })).body.dump()
  t.ok(await waitFor(() => lines.some((l) => l.includes('access log: writing again')), 5000), 'recovery is reported')
  const text = fs.readFileSync(file, 'utf8')
  const after = text.split('\n').find((l) => l.includes('after-full'))
  t.ok(after !== undefined && JSON.parse(after).path === '/after', 'lines are written again, each on a line of its own')
})
