/**
 * The private Node internals behind src/worker/native-write.ts. If a Node release removes or
 * reshapes them, these fail loudly: the proxy keeps working on `socket.write` (connection.ts),
 * but a small GET then costs about 3 % more CPU per thread, which nobody would notice otherwise.
 */
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { bindStreamWrap, nativeWrites, writableHandle } from '../../src/worker/native-write'

t.test(`Node ${process.version} still exposes process.binding('stream_wrap') and socket._handle.writeLatin1String`, async (t) => {
  t.ok(nativeWrites !== null, 'process.binding(\'stream_wrap\') has WriteWrap, streamBaseState and kLastWriteWasAsync (if not: requests take socket.write; adapt or remove src/worker/native-write.ts)')
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const accepted = once(server, 'connection')
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  await once(socket, 'connect')
  const [peer] = await accepted as [net.Socket]
  let got = ''
  peer.setEncoding('latin1')
  peer.on('data', (d: string) => { got += d })

  const handle = writableHandle(socket)
  t.ok(handle !== null, 'a connected socket\'s _handle has writeLatin1String (if not: adapt src/worker/native-write.ts)')
  if (nativeWrites === null || handle === null) return
  const req = nativeWrites.request(handle)
  const text = 'GET / HTTP/1.1\r\nhost: x\r\n\r\n'
  t.equal(handle.writeLatin1String(req, text), 0, 'a direct write is accepted')
  t.equal(nativeWrites.lastWriteWasAsync(), false, 'a small write on an idle socket completes at once')
  while (got.length < text.length) await once(peer, 'data')
  t.equal(got, text, 'the bytes arrive as written')
  socket.destroy()
  peer.destroy()
  t.equal(writableHandle(socket), null, 'no handle once the socket is destroyed')
})

t.test('a binding without what is needed gives null (every write then takes socket.write)', async (t) => {
  t.equal(bindStreamWrap(null), null)
  t.equal(bindStreamWrap({}), null)
  t.equal(bindStreamWrap({ WriteWrap: class {}, streamBaseState: new Int32Array(4) }), null, 'no kLastWriteWasAsync')
  t.ok(bindStreamWrap({ WriteWrap: class {}, streamBaseState: new Int32Array(4), kLastWriteWasAsync: 1 }) !== null)
})
