'use strict'
/**
 * The bundled example API: a dependency-free Node http server. It is what `symphony --image
 * symphony-test-api` scales in the tests, and it also runs directly on the host for the process
 * runtime (`PORT=18001 node examples/api/server.js`).
 *
 * Routes:
 *   GET  /api/v1/_health     200 {"status":"ok"}, or 500 after POST /admin/health/fail
 *   POST /admin/health/fail  make the health check fail (scripted failures for the healer)
 *   POST /admin/health/ok    make it pass again (and end a stall)
 *   POST /admin/health/stall?ms=N&count=K
 *                            answer the next K health checks N ms late (K=0: every one until
 *                            /admin/health/ok), as a replica does under a CPU spike
 *   POST /admin/crash        answer, then exit(1) (a replica dying under the autoscaler)
 *   GET  /slow?ms=N          answer after N ms (timeouts, draining)
 *   ANY  /echo               method, path, query, headers, body length and sha256 as JSON
 *   GET  /api/v1/hello       small JSON with hostname and pid (which replica answered)
 *   anything else            404 JSON
 *
 * Environment knobs (the rollout tests' versions, scripts/build-rollout-images.sh):
 *   API_VERSION=TEXT         shown as `version` by /api/v1/hello
 *   API_ANSWER_STATUS=N      every route but the health check answers N (a broken release: 500)
 *   API_HEALTH=fail          the health check answers 500 from the start (never turns healthy)
 */
const http = require('node:http')
const os = require('node:os')
const crypto = require('node:crypto')

const port = Number(process.env.PORT || 80)
const host = process.env.HOST || '0.0.0.0'
const MAX_SLOW_MS = 600000

const version = process.env.API_VERSION || null
const answerStatus = Number(process.env.API_ANSWER_STATUS) || 0
let healthy = process.env.API_HEALTH !== 'fail'
/** Scripted late health answers: how late, and how many more (Infinity = until /admin/health/ok). */
let stallMs = 0
let stallLeft = 0

function send (res, status, body) {
  const json = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json)
  })
  res.end(json)
}

/** Drain the request body; hash it as it streams so large bodies cost no memory. */
function readBody (req, cb) {
  const hash = crypto.createHash('sha256')
  let length = 0
  req.on('data', (chunk) => { length += chunk.length; hash.update(chunk) })
  req.on('end', () => cb(null, { length, sha256: hash.digest('hex') }))
  req.on('error', cb)
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url || '/', 'http://localhost')
  const path = url.pathname
  const method = req.method || 'GET'

  if (path === '/echo') {
    readBody(req, (err, body) => {
      if (err) return send(res, 400, { error: err.message })
      send(res, 200, {
        method,
        path,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body
      })
    })
    return
  }

  // Every other route ignores the body; resume() so keep-alive connections stay usable.
  req.resume()

  if (answerStatus !== 0 && path !== '/api/v1/_health') return send(res, answerStatus, { error: 'broken release', version })

  if (method === 'GET' && path === '/api/v1/_health') {
    const answer = () => healthy ? send(res, 200, { status: 'ok' }) : send(res, 500, { status: 'failing' })
    if (stallLeft <= 0) return answer()
    stallLeft--
    const timer = setTimeout(answer, stallMs)
    res.on('close', () => clearTimeout(timer))
    return
  }
  if (method === 'GET' && path === '/api/v1/hello') {
    return send(res, 200, { hello: 'world', hostname: os.hostname(), pid: process.pid, version })
  }
  if (method === 'GET' && path === '/slow') {
    const ms = Math.min(Math.max(Number(url.searchParams.get('ms')) || 0, 0), MAX_SLOW_MS)
    const timer = setTimeout(() => send(res, 200, { slept: ms }), ms)
    // A client that gives up must not keep the timer (and SIGTERM's close()) waiting.
    res.on('close', () => clearTimeout(timer))
    return
  }
  if (method === 'POST' && path === '/admin/health/fail') {
    healthy = false
    return send(res, 200, { healthy })
  }
  if (method === 'POST' && path === '/admin/health/ok') {
    healthy = true
    stallLeft = 0
    return send(res, 200, { healthy })
  }
  if (method === 'POST' && path === '/admin/health/stall') {
    stallMs = Math.min(Math.max(Number(url.searchParams.get('ms')) || 0, 0), MAX_SLOW_MS)
    const count = Math.max(Number(url.searchParams.get('count') ?? '1') || 0, 0)
    stallLeft = count === 0 ? Infinity : count
    return send(res, 200, { stallMs, count: count === 0 ? 'all' : count })
  }
  if (method === 'POST' && path === '/admin/crash') {
    send(res, 200, { crashing: true })
    // Exit once the answer is flushed, so the caller sees 200 and then the replica is gone.
    res.on('finish', () => setImmediate(() => process.exit(1)))
    return
  }
  send(res, 404, { error: 'not found', method, path })
})

server.listen(port, host, () => {
  const addr = server.address()
  console.log(JSON.stringify({ msg: 'listening', host, port: addr && typeof addr === 'object' ? addr.port : port, pid: process.pid }))
})

// As PID 1 in a container Node gets no default SIGTERM handler: without this, `docker stop`
// would wait out its whole grace period and then SIGKILL.
function shutdown (signal) {
  console.log(JSON.stringify({ msg: 'shutting down', signal }))
  server.close(() => process.exit(0))
  // Idle keep-alive sockets would hold close() open; in-flight requests still finish.
  if (typeof server.closeIdleConnections === 'function') server.closeIdleConnections()
  // Requests slower than the grace period are cut rather than holding the exit forever.
  setTimeout(() => process.exit(0), 10000).unref()
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
