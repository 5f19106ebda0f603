import net from 'node:net'

/** One raw keep-alive HTTP/1.1 connection on 127.0.0.1, for tests that count connections. */
export interface KeepAlive {
  readonly socket: net.Socket
  /** GET `path` on this connection; resolves with the status (bodies need a Content-Length). */
  get (path?: string): Promise<number>
  close (): void
}

/** Connect to 127.0.0.1:`port`: a connection, or the error code (ECONNREFUSED …) it failed with. */
export function connect (port: number): Promise<KeepAlive | string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.removeAllListeners('error'); resolve(wrap(socket)) })
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
  })
}

/** Whether a connection to 127.0.0.1:`port` is refused; one that is accepted is closed again. */
export async function refused (port: number): Promise<boolean> {
  const c = await connect(port)
  if (typeof c !== 'string') c.close()
  return c === 'ECONNREFUSED'
}

/** Like `connect`, but a failure is a test failure. */
export async function open (port: number): Promise<KeepAlive> {
  const c = await connect(port)
  if (typeof c === 'string') throw new Error(`connecting to 127.0.0.1:${port} failed: ${c}`)
  return c
}

function wrap (socket: net.Socket): KeepAlive {
  let buf = Buffer.alloc(0)
  let waiting: ((status: number) => void) | null = null
  let failed: ((err: Error) => void) | null = null
  const answer = (): void => {
    const head = buf.indexOf('\r\n\r\n')
    if (head < 0 || waiting === null) return
    const text = buf.subarray(0, head).toString('latin1')
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? 0)
    if (buf.length < head + 4 + length) return
    buf = buf.subarray(head + 4 + length)
    const done = waiting
    waiting = null
    done(Number(text.slice(9, 12)))
  }
  socket.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); answer() })
  socket.on('error', (err) => failed?.(err))
  socket.on('close', () => failed?.(new Error('connection closed before the answer')))
  return {
    socket,
    get (path = '/') {
      return new Promise<number>((resolve, reject) => {
        waiting = resolve
        failed = reject
        socket.write(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`)
      })
    },
    close () { socket.destroy() }
  }
}
