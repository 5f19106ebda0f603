/**
 * A benchmark backend: one uWS App on 127.0.0.1 that answers every GET (the health path included)
 * with the same 100-byte body over keep-alive, so the backend is never what limits a run.
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
  app.get('/*', (res) => {
    res.writeHeader('content-type', 'application/json').end(BODY)
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
