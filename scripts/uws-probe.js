#!/usr/bin/env node
// What the loaded uWebSockets.js build does on its own, with no symphony code in the way
// (issue #18: the two worker test files the Debian 13 pass leaves out). Run after a build:
//
//   node scripts/uws-probe.js            on this host (Node 20: uWS 20.30 where glibc < 2.38)
//   in the Debian 13 chroot, Node 24     (uWS 20.57), e.g. as scripts/test-trixie.sh sets it up
//
// 1. timeouts: an idle keep-alive connection, a head trickled byte by byte and a connection that
//    sends nothing; when does the build close each (the probe gives up after 25 s)?
// 2. pause: a fast upload (chunked, then Content-Length: 512 MiB, since 20.30 refuses ten digits) paused at every chunk and resumed 50 ms
//    later, as the gateway's flow control does; how many bytes arrive while paused?
// Prints one line per case. Takes about 32 s. Loopback only.
'use strict'
const net = require('node:net')
const path = require('node:path')
const { loadUws } = require(path.join(__dirname, '..', 'dist', 'src', 'uws', 'load.js'))

const { uws: uWS, runtime } = loadUws()
const MiB = 1024 * 1024
const GIVE_UP_MS = 25_000
const UPLOAD_MS = 3000

function listen (app) {
  return new Promise((resolve, reject) => {
    app.listen('127.0.0.1', 0, (ls) => ls ? resolve(ls) : reject(new Error('cannot listen')))
  })
}

function timeouts (port) {
  const cases = [
    ['idle keep-alive connection', 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', ''],
    ['head trickled byte by byte', 'GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ', 'z'],
    ['connection that sends nothing', '', '']
  ]
  return Promise.all(cases.map(([name, head, piece]) => new Promise((resolve) => {
    const started = Date.now()
    const s = net.connect(port, '127.0.0.1', () => { if (head !== '') s.write(head) })
    const trickle = piece === '' ? null : setInterval(() => { if (!s.destroyed) s.write(piece) }, 300)
    const cap = setTimeout(() => { s.destroy() }, GIVE_UP_MS)
    s.on('error', () => {})
    s.on('data', () => {})
    s.on('close', () => {
      clearTimeout(cap)
      if (trickle !== null) clearInterval(trickle)
      const ms = Date.now() - started
      resolve(`timeouts: ${name}: ${ms >= GIVE_UP_MS - 100 ? `still open after ${GIVE_UP_MS} ms (the probe closed it)` : `closed by uWS after ${ms} ms`}`)
    })
  })))
}

function pauseProbe (chunked) {
  return new Promise((resolve) => {
    let total = 0
    let past = 0
    let pauses = 0
    let paused = false
    let gone = false
    const app = uWS.App().any('/*', (res) => {
      res.onAborted(() => { gone = true })
      res.onData((ab) => {
        total += ab.byteLength
        if (paused) { past += ab.byteLength; return }
        paused = true
        pauses++
        res.pause()
        setTimeout(() => { if (!gone) { paused = false; res.resume() } }, 50)
      })
    })
    void listen(app).then((ls) => {
      const s = net.connect(uWS.us_socket_local_port(ls), '127.0.0.1', () => {
        s.write(`POST / HTTP/1.1\r\nHost: h\r\n${chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${512 * MiB}`}\r\n\r\n`)
        const body = Buffer.alloc(MiB, 120)
        const piece = chunked ? Buffer.concat([Buffer.from(`${MiB.toString(16)}\r\n`), body, Buffer.from('\r\n')]) : body
        let sent = 0
        const pump = () => { while (sent < 512 && !s.destroyed && s.write(piece)) sent++; if (sent < 512 && !s.destroyed) s.once('drain', pump) }
        pump()
      })
      s.on('error', () => {})
      setTimeout(() => {
        s.destroy()
        uWS.us_listen_socket_close(ls)
        resolve(`pause: ${chunked ? 'chunked' : 'Content-Length'} upload: ${(total / MiB).toFixed(1)} MiB read in ${UPLOAD_MS} ms, ${(past / MiB).toFixed(1)} MiB of it while paused (${pauses} pauses)`)
      }, UPLOAD_MS)
    })
  })
}

async function main () {
  console.log(`uWS ${runtime.build} on Node ${process.version} (${runtime.file})`)
  const app = uWS.App().any('/*', (res) => { res.end('ok') })
  const ls = await listen(app)
  const lines = await timeouts(uWS.us_socket_local_port(ls))
  uWS.us_listen_socket_close(ls)
  for (const line of lines) console.log(line)
  console.log(await pauseProbe(true))
  console.log(await pauseProbe(false))
  process.exit(0)
}

main().catch((err) => { console.error(err); process.exit(1) })
