/**
 * The one place a proxy thread touches private Node.js internals (the main thread's one is
 * src/gateway/receive-buffers.ts, `udp_wrap`): `process.binding('stream_wrap')` and
 * a socket's `_handle`, to write a bodiless request's head straight to the socket's native handle
 * (src/worker/connection.ts, Connection.writeDirect): about 3 % of a proxy thread's CPU for a
 * small GET (perf; docs/performance.md, "What we tried"). Both exist without a warning on Node 20, 22 and
 * 24; a release that drops either makes `nativeWrites` null and every write takes `socket.write`,
 * as before. test/worker/native-write.test.ts fails loudly when that happens, so the loss is seen.
 */
import type net from 'node:net'

/** A native write request (Node's WriteWrap), reused while writes complete at once. */
export interface WriteReq {
  handle: unknown
  oncomplete: (this: WriteReq, status: number) => void
  async: boolean
  /** Who to tell when a write that went asynchronous fails; null while the request is idle. */
  owner: { writeFailed (status: number): void } | null
}

/** What `socket._handle` offers for a direct write (LibuvStreamWrap's JS methods). */
export interface StreamHandle {
  writeLatin1String (req: WriteReq, data: string): number
}

interface StreamWrapBinding {
  readonly WriteWrap: new () => WriteReq
  readonly streamBaseState: Int32Array
  readonly kLastWriteWasAsync: number
}

/** Direct writes, as Node's own `writeGeneric` does them underneath `socket.write`. */
export interface NativeWrites {
  /** A new write request for `handle`. */
  request (handle: StreamHandle): WriteReq
  /** Whether the last write on this thread went asynchronous (libuv completes it later). */
  lastWriteWasAsync (): boolean
}

/** NativeWrites over a `stream_wrap` binding, or null if it lacks what is needed. */
export function bindStreamWrap (binding: unknown): NativeWrites | null {
  const b = binding as Partial<StreamWrapBinding> | null
  if (b === null || typeof b !== 'object' || typeof b.WriteWrap !== 'function' || !(b.streamBaseState instanceof Int32Array) || typeof b.kLastWriteWasAsync !== 'number') return null
  const { WriteWrap, streamBaseState, kLastWriteWasAsync } = b as StreamWrapBinding
  return {
    request (handle) {
      const req = new WriteWrap()
      req.handle = handle
      req.oncomplete = onDirectWriteDone
      req.async = false
      req.owner = null
      return req
    },
    lastWriteWasAsync: () => streamBaseState[kLastWriteWasAsync] !== 0
  }
}

/** A direct write that went asynchronous has finished (Node's onWriteComplete, minus the stream bookkeeping). */
function onDirectWriteDone (this: WriteReq, status: number): void {
  const owner = this.owner
  this.owner = null
  if (status < 0 && owner !== null) owner.writeFailed(status)
}

/** This Node's direct writes; null when it does not expose them (every write is then `socket.write`). */
export const nativeWrites: NativeWrites | null = (() => {
  try {
    // A private API on purpose (see above); the fallback is socket.write.
    // eslint-disable-next-line n/no-deprecated-api
    return bindStreamWrap((process as unknown as { binding: (name: string) => unknown }).binding('stream_wrap'))
  } catch {
    return null
  }
})()

/** The socket's native handle if it can take a direct write (connected, not destroyed), else null. */
export function writableHandle (socket: net.Socket): StreamHandle | null {
  const handle = (socket as unknown as { _handle: Partial<StreamHandle> | null })._handle
  return handle !== null && handle !== undefined && typeof handle.writeLatin1String === 'function' ? handle as StreamHandle : null
}
