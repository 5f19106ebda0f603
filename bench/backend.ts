/**
 * A benchmark backend: one uWS App on 127.0.0.1, keep-alive, doing as little as it can so that
 * the backend is never what limits a run:
 * - `GET /16k` and `GET /1m`: 16 KiB and 1 MiB bodies, built once;
 * - `GET /slow`: the 100-byte JSON body after SLOW_MS (a slow answer, for the soak);
 * - `POST /*` (any path): reads the whole body and answers `{"len":N}` (N = bytes received);
 * - any other GET (the health path included): the same 100-byte JSON body.
 *
 * Run as a process of its own (`node dist/bench/backend.js [PORT] [COUNT]`): it prints
 * `{"port":N,"ports":[N,…]}` once listening and exits when stdin ends (its parent died or closed
 * it), on SIGTERM or on SIGINT, closing the listen sockets first because uWS aborts a process
 * that exits with sockets open. With COUNT > 1 the same App listens on COUNT ports (PORT, or any
 * free ones when PORT is 0): the `backends` scenario puts 256 backends behind two processes.
 */
import { uWS } from '../src/uws'
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js'

/** The response body: 100 bytes of JSON, built once. */
export const BODY: string = (() => {
  const head = '{"ok":true,"pad":"'
  const tail = '"}\n'
  return head + 'x'.repeat(100 - head.length - tail.length) + tail
})()

/** The large bodies, built once. */
export const BODY_16K: Buffer = Buffer.alloc(16 * 1024, 'y')
export const BODY_1M: Buffer = Buffer.alloc(1024 * 1024, 'z')

/** How long `GET /slow` waits before it answers. */
export const SLOW_MS = 1000

/** A running benchmark backend. */
export interface BenchBackend {
  /** The first port. */
  readonly port: number
  /** Every port, in listen order. */
  readonly ports: readonly number[]
  /** Close the listen socket and every connection. Idempotent. */
  close (): void
}

/**
 * Listen on 127.0.0.1:`port` (0 = any free port) and serve {@link BODY}; with `count` > 1 the
 * same App listens on `count` ports (`port`, `port + 1`, … or, for 0, any free ones).
 */
export async function startBenchBackend (port = 0, count = 1): Promise<BenchBackend> {
  // close() exists at runtime in this build but is missing from its index.d.ts.
  const app = uWS.App() as TemplatedApp & { close: () => void }
  app.get('/16k', (res) => {
    res.writeHeader('content-type', 'application/octet-stream').end(BODY_16K)
  })
  // uWS keeps what the socket cannot take yet and sends it as the client reads.
  app.get('/1m', (res) => {
    res.writeHeader('content-type', 'application/octet-stream').end(BODY_1M)
  })
  app.get('/slow', (res) => {
    let aborted = false
    res.onAborted(() => { aborted = true })
    setTimeout(() => {
      if (!aborted) res.cork(() => { res.writeHeader('content-type', 'application/json').end(BODY) })
    }, SLOW_MS)
  })
  app.get('/*', (res) => {
    res.writeHeader('content-type', 'application/json').end(BODY)
  })
  app.post('/*', (res) => {
    let len = 0
    let aborted = false
    res.onAborted(() => { aborted = true })
    res.onData((chunk, last) => {
      len += chunk.byteLength
      if (last && !aborted) res.cork(() => { res.writeHeader('content-type', 'application/json').end(`{"len":${len}}`) })
    })
  })
  const listens: us_listen_socket[] = []
  const ports: number[] = []
  let closed = false
  const close = (): void => {
    if (closed) return
    closed = true
    for (const s of listens) uWS.us_listen_socket_close(s)
    app.close()
  }
  try {
    for (let i = 0; i < count; i++) {
      const want = port === 0 ? 0 : port + i
      ports.push(await new Promise<number>((resolve, reject) => {
        app.listen('127.0.0.1', want, (s) => {
          if (s === false) return reject(new Error(`bench backend cannot listen on 127.0.0.1:${want}`))
          listens.push(s)
          resolve(uWS.us_socket_local_port(s))
        })
      }))
    }
  } catch (err) {
    close()
    throw err
  }
  return { port: ports[0], ports, close }
}

if (require.main === module) {
  startBenchBackend(Number(process.argv[2] ?? '0'), Number(process.argv[3] ?? '1')).then((backend) => {
    const stop = (): void => {
      backend.close()
      process.exit(0)
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
    process.stdin.on('end', stop).on('error', stop).resume()
    process.stdout.write(`${JSON.stringify({ port: backend.port, ports: backend.ports })}\n`)
  }, (err: Error) => {
    process.stderr.write(`${err.message}\n`)
    process.exit(1)
  })
}
