import net from 'node:net'

/** What a raw backend answers one request with: bytes as they are (then closed when `close`), or null when `answer` wrote itself. */
export type RawAnswer = { wire: string | Buffer, close?: boolean } | null

/**
 * A backend that answers with raw bytes: the health path gets a plain 200, every other request
 * `answer(path, socket)`, written as is (then the socket is closed when `close` is set). An
 * answer of null means the callback wrote to the socket itself (timed or broken answers).
 */
export async function rawBackend (answer: (path: string, socket: net.Socket) => RawAnswer): Promise<{ port: number, connections: () => number, close: () => void }> {
  let connections = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buffered = ''
    socket.on('data', (d) => {
      buffered += d.toString('latin1')
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = buffered.slice(0, end)
        buffered = buffered.slice(end + 4)
        const path = head.split(' ')[1]
        if (path.startsWith('/api/v1/_health')) {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
          continue
        }
        const a = answer(path, socket)
        if (a === null) continue
        socket.write(a.wire)
        if (a.close === true) { socket.end(); return }
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    close: () => { for (const s of sockets) s.destroy(); server.close() }
  }
}
