#!/usr/bin/env node
// What the loaded uWebSockets.js build does on its own, with no symphony request handling in the
// way (issue #18: the worker tests the Debian 13 pass left out). Run after a build:
//
//   node scripts/uws-probe.js            on this host (Node 20: uWS 20.30 where glibc < 2.38)
//   in the Debian 13 chroot, Node 24     (uWS 20.57), e.g. as scripts/test-trixie.sh sets it up
//
// 1. timeouts: an idle keep-alive connection, a head trickled byte by byte, a connection that
//    sends nothing and a body trickled at 5 KiB/s: when does the build close each, on an App as
//    the build makes it and on one given 10 s timeouts where the build has the setters? The probe
//    gives up after 40 s (20.57's own default is 30 s).
// 2. limits of the head: the most header lines passed on, and what a 17 KB head gets, with the
//    build loaded as symphony loads it (src/uws/load.ts).
// 3. pause: a fast upload (chunked, then Content-Length: 512 MiB, since 20.30 refuses ten digits)
//    paused at every chunk and resumed 50 ms later, as the gateway's flow control does; how many
//    bytes arrive while paused? The uploader runs in a child process, as a real client does, and
//    the longest run of bytes read past one pause is reported too. Then the same with the listen
//    socket's receive buffer limited as the gateway limits it where the build reads past a pause
//    (src/gateway/receive-buffers.ts). The App runs in a worker thread (scripts/paused-upload.js).
// Prints one line per case. Takes about 60 s; `node scripts/uws-probe.js pause` runs only 3, in
// about 15 s. Loopback only.
'use strict'
const net = require('node:net')
const path = require('node:path')
const { loadUws } = require(path.join(__dirname, '..', 'dist', 'src', 'uws', 'load.js'))

const { RECEIVE_BUFFER_BYTES } = require(path.join(__dirname, '..', 'dist', 'src', 'gateway', 'receive-buffers.js'))
const { pausedUpload } = require(path.join(__dirname, 'paused-upload.js'))

const { uws: uWS, runtime } = loadUws()
const MiB = 1024 * 1024
const GIVE_UP_MS = 40_000
const UPLOAD_MS = 3000

function listen (app) {
  return new Promise((resolve, reject) => {
    app.listen('127.0.0.1', 0, (ls) => ls ? resolve(ls) : reject(new Error('cannot listen')))
  })
}

/** Opens a connection, writes `head`, then `piece` every `everyMs`; resolves with when it closed and what came back. */
function connection (port, head, piece, everyMs, capMs = GIVE_UP_MS) {
  return new Promise((resolve) => {
    const started = Date.now()
    let answer = ''
    const s = net.connect(port, '127.0.0.1', () => { if (head !== '') s.write(head) })
    const trickle = piece === '' ? null : setInterval(() => { if (!s.destroyed) s.write(piece) }, everyMs)
    const cap = setTimeout(() => { s.destroy() }, capMs)
    s.on('error', () => {})
    s.on('data', (d) => { answer += d.toString('latin1') })
    s.on('close', () => {
      clearTimeout(cap)
      if (trickle !== null) clearInterval(trickle)
      resolve({ ms: Date.now() - started, gaveUp: Date.now() - started >= capMs - 100, answer })
    })
  })
}

async function timeouts (label, app) {
  app.any('/*', (res, req) => {
    if (req.getUrl() === '/slow') { res.onAborted(() => {}); res.onData(() => {}); return }
    res.end('ok')
  })
  const ls = await listen(app)
  const port = uWS.us_socket_local_port(ls)
  const cases = [
    ['idle keep-alive connection', 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', '', 0],
    ['head trickled byte by byte', 'GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ', 'z', 300],
    ['connection that sends nothing', '', '', 0],
    ['body trickled at 5 KiB/s', 'POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 100000000\r\n\r\n', 'x'.repeat(1024), 200]
  ]
  const outcomes = await Promise.all(cases.map(([, head, piece, every]) => connection(port, head, piece, every)))
  uWS.us_listen_socket_close(ls)
  return cases.map(([name], i) => `timeouts, ${label}: ${name}: ${outcomes[i].gaveUp ? `still open after ${GIVE_UP_MS} ms (the probe closed it)` : `closed by uWS after ${outcomes[i].ms} ms`}`)
}

async function headLimits () {
  const app = uWS.App().any('/*', (res) => { res.end('ok') })
  const ls = await listen(app)
  const port = uWS.us_socket_local_port(ls)
  const status = (o) => o.answer === '' ? 'no answer' : o.answer.split('\r\n')[0]
  const lines = (n) => Array.from({ length: n - 1 }, (_, i) => `X-H${i}: v\r\n`).join('')
  let most = 0
  for (let n = 40; n <= 120; n++) {
    const o = await connection(port, `GET / HTTP/1.1\r\nHost: h\r\n${lines(n)}\r\n`, '', 0, 1500)
    if (!o.answer.startsWith('HTTP/1.1 200')) {
      most = n - 1
      break
    }
  }
  const big = await connection(port, `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${'b'.repeat(17_000)}\r\n\r\n`, '', 0, 1500)
  const huge = await connection(port, `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${'b'.repeat(60_000)}\r\n\r\n`, '', 0, 1500)
  uWS.us_listen_socket_close(ls)
  return [
    `head: the most header lines passed on (Host included): ${most}`,
    `head: a 17 KB head: ${status(big)}; a 60 KB head: ${status(huge)}`
  ]
}

async function pauseProbe (chunked, limited) {
  const r = await pausedUpload({ chunked, limit: limited, ms: UPLOAD_MS })
  const f = (n) => (n / MiB).toFixed(1)
  return `pause${limited ? `, SO_RCVBUF ${RECEIVE_BUFFER_BYTES / 1024} KiB` : ''}: ${chunked ? 'chunked' : 'Content-Length'} upload: ${f(r.total)} MiB read in ${UPLOAD_MS} ms, ${f(r.past)} MiB of it while paused (${r.pauses} pauses, at most ${f(r.longest)} MiB past one)`
}

async function pauses () {
  for (const limited of [false, true]) {
    console.log(await pauseProbe(true, limited))
    console.log(await pauseProbe(false, limited))
  }
}

async function main () {
  console.log(`uWS ${runtime.build} on Node ${process.version} (${runtime.file})`)
  if (process.argv[2] === 'pause') {
    await pauses()
    process.exit(0)
  }
  const bare = uWS.App()
  const defaults = typeof bare.getIdleTimeout === 'function' ? `idle ${bare.getIdleTimeout()} s, response ${bare.getResponseTimeout()} s` : 'fixed (no setIdleTimeout)'
  console.log(`timeouts: the build's own: ${defaults}`)
  const set = uWS.App()
  if (typeof set.setIdleTimeout === 'function') { set.setIdleTimeout(10); set.setResponseTimeout(10) }
  const lines = await Promise.all([timeouts('as built', bare), timeouts('set to 10 s', set)])
  for (const line of lines.flat()) console.log(line)
  for (const line of await headLimits()) console.log(line)
  await pauses()
  process.exit(0)
}

main().catch((err) => { console.error(err); process.exit(1) })
