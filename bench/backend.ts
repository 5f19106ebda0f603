/**
 * A benchmark backend: one uWS App on 127.0.0.1, keep-alive, doing as little as it can so that
 * the backend is never what limits a run:
 * - `GET /16k` and `GET /1m`: 16 KiB and 1 MiB bodies, built once;
 * - `POST /*` (any path): reads the whole body and answers `{"len":N}` (N = bytes received);
 * - any other GET (the health path included): the same 100-byte JSON body.
 *
 * Run as a process of its own (`node dist/bench/backend.js [PORT]`): it prints `{"port":N}` once
 * listening and exits when stdin ends (its parent died or closed it), on SIGTERM or on SIGINT,
 * closing the listen socket first because uWS aborts a process that exits with sockets open.
 */
import uWS from 'uWebSockets.js'
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

/** A running benchmark backend. */
export interface BenchBackend {
  readonly port: number
  /** Close the listen socket and every connection. Idempotent. */
  close (): void
}

/** Listen on 127.0.0.1:`port` (0 = any free port) and serve {@link BODY}. */
export async function startBenchBackend (port = 0): Promise<BenchBackend> {
  // close() exists at runtime in this build but is missing from its index.d.ts.
  const app = uWS.App() as TemplatedApp & { close: () => void }
  app.get('/16k', (res) => {
    res.writeHeader('content-type', 'application/octet-stream').end(BODY_16K)
  })
  // uWS keeps what the socket cannot take yet and sends it as the client reads.
  app.get('/1m', (res) => {
    res.writeHeader('content-type', 'application/octet-stream').end(BODY_1M)
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
  let listen: us_listen_socket | null = null
  const bound = await new Promise<number>((resolve, reject) => {
    app.listen('127.0.0.1', port, (s) => {
      if (s === false) return reject(new Error(`bench backend cannot listen on 127.0.0.1:${port}`))
      listen = s
      resolve(uWS.us_socket_local_port(s))
    })
  })
  let closed = false
  return {
    port: bound,
    close () {
      if (closed) return
      closed = true
      if (listen !== null) uWS.us_listen_socket_close(listen)
      app.close()
    }
  }
}

if (require.main === module) {
  startBenchBackend(Number(process.argv[2] ?? '0')).then((backend) => {
    const stop = (): void => {
      backend.close()
      process.exit(0)
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
    process.stdin.on('end', stop).on('error', stop).resume()
    process.stdout.write(`${JSON.stringify({ port: backend.port })}\n`)
  }, (err: Error) => {
    process.stderr.write(`${err.message}\n`)
    process.exit(1)
  })
}
