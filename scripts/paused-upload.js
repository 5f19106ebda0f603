// A fast upload to a bare uWS App that pauses at every chunk and resumes 50 ms later, as the
// gateway's flow control does: how many bytes arrive while paused? For scripts/uws-probe.js and
// test/gateway/receive-buffers.test.ts. Run after a build (it loads dist/).
//
// The App runs in a worker thread, as in the gateway, so that `limit` can hold its listen socket's
// receive buffer from this thread as the gateway does (src/gateway/receive-buffers.ts: libuv will
// not open a descriptor its own loop watches). The uploader is a child process, as a real client.
'use strict'
const path = require('node:path')
const { spawn } = require('node:child_process')
const { Worker } = require('node:worker_threads')

const MiB = 1024 * 1024
const dist = path.join(__dirname, '..', 'dist', 'src')
const { ListenReceiveBuffers } = require(path.join(dist, 'gateway', 'receive-buffers.js'))
/** One for the process, as the gateway has: its handles are kept per descriptor number. */
let buffers = null

const APP = `
const { parentPort, workerData } = require('node:worker_threads')
const { uws: uWS } = require(workerData.load).loadUws()
const s = { total: 0, past: 0, longest: 0, pauses: 0 }
let run = 0
let paused = false
const app = uWS.App().any('/*', (res) => {
  let gone = false
  res.onAborted(() => { gone = true })
  res.onData((ab) => {
    if (s.total === 0) parentPort.postMessage({ first: true })
    s.total += ab.byteLength
    if (paused) {
      s.past += ab.byteLength
      run += ab.byteLength
      s.longest = Math.max(s.longest, run)
      return
    }
    paused = true
    s.pauses++
    run = 0
    res.pause()
    setTimeout(() => { if (!gone) { paused = false; res.resume() } }, 50)
  })
})
app.listen('127.0.0.1', 0, (ls) => {
  if (ls === false) throw new Error('cannot listen')
  parentPort.postMessage({ port: uWS.us_socket_local_port(ls) })
  parentPort.on('message', () => {
    uWS.us_listen_socket_close(ls)
    app.close()
    parentPort.postMessage({ stats: s })
  })
})
`

/** The uploader: `head`, then 1 MiB pieces as fast as the socket takes them, 512 of them at most. */
function uploader (port, chunked) {
  const head = `POST / HTTP/1.1\\r\\nHost: h\\r\\n${chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${512 * MiB}`}\\r\\n\\r\\n`
  return spawn(process.execPath, ['-e', `
    const s = require('node:net').connect(${port}, '127.0.0.1', () => {
      s.write('${head}')
      const body = Buffer.alloc(${MiB}, 120)
      const piece = ${chunked} ? Buffer.concat([Buffer.from('${MiB.toString(16)}\\r\\n'), body, Buffer.from('\\r\\n')]) : body
      let sent = 0
      const pump = () => { while (sent < 512 && !s.destroyed && s.write(piece)) sent++; if (sent < 512 && !s.destroyed) s.once('drain', pump) }
      pump()
    })
    s.on('error', () => process.exit(0))
    setTimeout(() => process.exit(0), 60000)`], { stdio: 'ignore' })
}

/**
 * One upload, `ms` long from its first byte (a child Node process can take seconds to start on a
 * loaded machine; 30 s at most in all), with the listen socket's receive buffer held (`limit`) or
 * as Linux sizes it. Resolves { total, past, longest, pauses } in bytes: `longest` is the most
 * read past one pause. Rejects when `limit` cannot set the socket.
 */
function pausedUpload ({ chunked = true, limit = false, ms = 2000 } = {}) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(APP, { eval: true, workerData: { load: path.join(dist, 'uws', 'load.js') } })
    let child = null
    let cap = null
    let timer = null
    let ended = false
    const end = () => {
      if (ended) return
      ended = true
      clearTimeout(cap)
      clearTimeout(timer)
      child?.kill()
      worker.postMessage('close')
    }
    const fail = (err) => { end(); void worker.terminate(); reject(err) }
    worker.on('error', fail)
    worker.on('message', (m) => {
      if (m.port !== undefined) {
        if (limit) {
          buffers ??= new ListenReceiveBuffers()
          const outcome = buffers.limit(m.port)
          if (!outcome.ok || outcome.sockets !== 1) { fail(new Error(`cannot limit the receive buffer: ${JSON.stringify(outcome)}`)); return }
        }
        child = uploader(m.port, chunked)
        cap = setTimeout(end, 30_000)
      }
      if (m.first) timer = setTimeout(end, ms)
      if (m.stats !== undefined) { void worker.terminate(); resolve(m.stats) }
    })
  })
}

module.exports = { pausedUpload, MiB }
